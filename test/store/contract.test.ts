/**
 * One contract, every backend. Redis and PostgreSQL are the real local servers
 * (override with TEST_REDIS_URL / TEST_POSTGRES_URL); when one is down these tests
 * fail, they never skip. Names carry a random suffix so parallel runs never meet.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { collection } from "../../src/store/collection.js";
import { FencedOutError } from "../../src/store/errors.js";
import { openStore } from "../../src/store/open-store.js";
import type { KeyValue, Locks, Store } from "../../src/store/store.js";
import { LockLostError, LockTimeoutError, withLock } from "../../src/store/with-lock.js";
import { backendUrls } from "../helpers/backends.js";

const run = randomBytes(4).toString("hex");
let serial = 0;
const unique = (what: string) => `t-${run}-${what}-${++serial}`;

const dir = mkdtempSync(join(tmpdir(), "fedimove-contract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const factories = backendUrls(dir);

/** clear() is not on KeyValue; the Keyv store offers it, and the test insists. */
function clearOf(kv: KeyValue<unknown>): () => Promise<void> {
  if ("clear" in kv && typeof kv.clear === "function") {
    const clear = kv.clear;
    return () => clear.call(kv);
  }
  throw new Error("this store's namespaces have no clear()");
}

const Counter = z.object({ n: z.number() });
type Counter = z.infer<typeof Counter>;

/** Read, yield to the event loop and the network, then write: loses updates unless locked. */
async function increment(kv: KeyValue<Counter>): Promise<void> {
  const current = (await kv.get("counter"))?.n ?? 0;
  await sleep(Math.random() * 3);
  await kv.set("counter", { n: current + 1 });
}

for (const [name, make] of Object.entries(factories)) {
  describe(name, () => {
    let url: string;
    let store: Store;
    const used: KeyValue<unknown>[] = [];
    const ns = (s: Store = store): KeyValue<unknown> => {
      const kv = s.namespace(unique("ns"));
      used.push(kv);
      return kv;
    };

    beforeAll(async () => {
      url = make();
      store = await openStore(url);
    });
    afterEach(async () => {
      for (const kv of used.splice(0)) await clearOf(kv)();
    });
    afterAll(async () => {
      await store?.close();
    });

    it("reports its kind", () => {
      expect(store.kind).toBe(name);
    });

    it("round-trips nested JSON, and deletes", async () => {
      const kv = ns();
      const value = {
        user: { id: 42, handle: "@a@b.example", tags: ["x", ":colon", ""] },
        list: [1, 2.5, null, true, { deep: { deeper: [] } }],
        text: "ünïcødé ✓",
      };
      await kv.set("user:42", value);
      expect(await kv.get("user:42")).toEqual(value);
      expect(await kv.get("missing")).toBeUndefined();
      expect(await kv.delete("user:42")).toBe(true);
      expect(await kv.get("user:42")).toBeUndefined();
      expect(await kv.delete("user:42")).toBe(false);
    });

    it("keeps a key that starts with the namespace apart from the bare key", async () => {
      const space = unique("ns");
      const kv = store.namespace(space);
      used.push(kv);
      await kv.set("x", "bare");
      await kv.set(`${space}:x`, "prefixed");
      expect(await kv.get("x")).toBe("bare");
      expect(await kv.get(`${space}:x`)).toBe("prefixed");
    });

    it("expires a value after its TTL, and keeps one without", async () => {
      const kv = ns();
      await kv.set("brief", "soon gone", 150);
      await kv.set("lasting", "stays");
      expect(await kv.get("brief")).toBe("soon gone");
      await sleep(300);
      expect(await kv.get("brief")).toBeUndefined();
      expect(await kv.get("lasting")).toBe("stays");
      await expect(kv.set("zero", "x", 0)).rejects.toThrow(RangeError);
    });

    it("isolates namespaces: delete and clear touch one only", async () => {
      const a = ns();
      const b = ns();
      await a.set("same", "in a");
      await b.set("same", "in b");
      await a.set("other", "in a");
      expect(await a.get("same")).toBe("in a");
      expect(await b.get("same")).toBe("in b");
      await a.delete("same");
      expect(await b.get("same")).toBe("in b");
      await clearOf(a)();
      expect(await a.get("other")).toBeUndefined();
      expect(await b.get("same")).toBe("in b");
    });

    it("acquires, contends, extends and releases a lease", async () => {
      const lock = unique("lock");
      const lease = await store.locks.acquire(lock, 5_000);
      expect(lease).toMatchObject({
        lock,
        token: expect.any(String),
        generation: expect.any(Number),
      });
      if (lease === null) return;
      expect(await store.locks.acquire(lock, 5_000)).toBeNull();
      expect(await store.locks.extend(lock, lease.token, 5_000)).toBe(true);
      expect(await store.locks.extend(lock, "not-the-token", 5_000)).toBe(false);
      await store.locks.release(lock, "not-the-token");
      expect(await store.locks.acquire(lock, 5_000)).toBeNull();
      await store.locks.release(lock, lease.token);
      const again = await store.locks.acquire(lock, 5_000);
      expect(again?.generation).toBeGreaterThan(lease.generation);
      if (again) await store.locks.release(lock, again.token);
    });

    it("lets a lease expire: it can no longer be extended, and another takes it", async () => {
      const lock = unique("lock");
      const lease = await store.locks.acquire(lock, 150);
      expect(lease).not.toBeNull();
      await sleep(300);
      expect(await store.locks.extend(lock, lease?.token ?? "", 5_000)).toBe(false);
      const next = await store.locks.acquire(lock, 5_000);
      expect(next).not.toBeNull();
      await store.locks.release(lock, lease?.token ?? "");
      expect(await store.locks.acquire(lock, 5_000)).toBeNull();
      if (next) await store.locks.release(lock, next.token);
    });

    it("refuses a write fenced by a lease that expired and was taken by another", async () => {
      const kv = ns();
      const lock = unique("lock");
      const first = await store.locks.acquire(lock, 150);
      if (!first) throw new Error("no lease");
      await kv.setFenced("turn", { by: "first", n: 1 }, first);
      expect(await kv.get("turn")).toEqual({ by: "first", n: 1 });

      await sleep(300);
      const second = await store.locks.acquire(lock, 5_000);
      if (!second) throw new Error("no lease");
      expect(second.generation).toBeGreaterThan(first.generation);
      await kv.setFenced("turn", { by: "second", n: 2 }, second);

      const stale = kv.setFenced("turn", { by: "first", n: 3 }, first);
      await expect(stale).rejects.toThrow(FencedOutError);
      await expect(stale).rejects.toThrow(lock);
      await expect(kv.setFenced("fresh", "x", first)).rejects.toThrow(FencedOutError);
      expect(await kv.get("turn")).toEqual({ by: "second", n: 2 });
      expect(await kv.get("fresh")).toBeUndefined();
      await store.locks.release(lock, second.token);
    });

    it("keeps a fence while its lease merely expired, and drops it at release or seizure", async () => {
      const kv = ns();
      const lock = unique("lock");
      const lease = await store.locks.acquire(lock, 150);
      if (!lease) throw new Error("no lease");
      await sleep(300);
      // Nobody took it: nothing the holder writes can undo anyone else's work.
      await kv.setFenced("k", "late but alone", lease);
      expect(await kv.get("k")).toBe("late but alone");
      await store.locks.release(lock, lease.token);
      await expect(kv.setFenced("k", "after release", lease)).rejects.toThrow(FencedOutError);

      const held = await store.locks.acquire(lock, 5_000);
      if (!held) throw new Error("no lease");
      const seized = await store.locks.seize(lock, 5_000);
      expect(seized.generation).toBeGreaterThan(held.generation);
      await expect(kv.setFenced("k", "held", held)).rejects.toThrow(FencedOutError);
      expect(await store.locks.extend(lock, held.token, 5_000)).toBe(false);
      await kv.setFenced("k", "seized", seized);
      expect(await kv.get("k")).toBe("seized");
      await store.locks.release(lock, seized.token);
      expect(await store.locks.acquire(lock, 5_000)).not.toBeNull();
    });

    it("take: of 50 concurrent takers of one key, exactly one gets the value", async () => {
      const kv = ns();
      await kv.set("state", { user: "tg:1" });
      const taken = await Promise.all(Array.from({ length: 50 }, () => kv.take("state")));
      expect(taken.filter((v) => v !== undefined)).toEqual([{ user: "tg:1" }]);
      expect(await kv.get("state")).toBeUndefined();
      expect(await kv.take("missing")).toBeUndefined();
      await kv.set("brief", "soon gone", 100);
      await sleep(200);
      expect(await kv.take("brief")).toBeUndefined();
    });

    it("delete: of 50 concurrent deleters of one key, exactly one removed it", async () => {
      const kv = ns();
      await kv.set("once", 1);
      const removed = await Promise.all(Array.from({ length: 50 }, () => kv.delete("once")));
      expect(removed.filter(Boolean)).toHaveLength(1);
    });

    it("withLock serialises 20 concurrent read-modify-writes", async () => {
      const kv = collection(store, unique("ns"), Counter);
      const lock = unique("lock");
      const opts = { ttlMs: 5_000, pollMs: 5 };
      await Promise.all(
        Array.from({ length: 20 }, () => withLock(store.locks, lock, () => increment(kv), opts)),
      );
      expect(await kv.get("counter")).toEqual({ n: 20 });
    });

    it("withLock times out, releases after a throw, and renews a long lease", async () => {
      const lock = unique("lock");
      const held = await store.locks.acquire(lock, 5_000);
      await expect(
        withLock(store.locks, lock, async () => "never", { waitMs: 100, pollMs: 10 }),
      ).rejects.toThrow(LockTimeoutError);
      if (held) await store.locks.release(lock, held.token);

      await expect(
        withLock(store.locks, lock, async () => Promise.reject(new Error("boom"))),
      ).rejects.toThrow("boom");

      // Work lasting three TTLs keeps the lease thanks to the heartbeat.
      const result = await withLock(
        store.locks,
        lock,
        async (signal) => {
          await sleep(450);
          expect(await store.locks.acquire(lock, 150)).toBeNull();
          return signal.aborted ? "lost" : "kept";
        },
        { ttlMs: 150 },
      );
      expect(result).toBe("kept");
      const after = await store.locks.acquire(lock, 5_000);
      expect(after).not.toBeNull();
      if (after) await store.locks.release(lock, after.token);
    });

    it("withLock stops waiting when its caller gives up, and never runs the work", async () => {
      const lock = unique("lock");
      const held = await store.locks.acquire(lock, 5_000);
      const giveUp = new AbortController();
      let ran = false;
      const waiting = withLock(
        store.locks,
        lock,
        async () => {
          ran = true;
        },
        { waitMs: Number.MAX_SAFE_INTEGER, signal: giveUp.signal },
      );
      await sleep(100);
      giveUp.abort(new Error("stopping"));
      await expect(waiting).rejects.toThrow("stopping");
      if (held) await store.locks.release(lock, held.token);
      // Nothing of the waiter's is left holding it.
      const after = await store.locks.acquire(lock, 5_000);
      expect(after).not.toBeNull();
      if (after) await store.locks.release(lock, after.token);
      expect(ran).toBe(false);
    });

    it("withLock aborts the signal when the lease is lost", async () => {
      const lock = unique("lock");
      const losing: Locks = {
        acquire: (n, ttl) => store.locks.acquire(n, ttl),
        extend: async () => false,
        release: (n, token) => store.locks.release(n, token),
        seize: (n, ttl) => store.locks.seize(n, ttl),
      };
      const reason = await withLock(
        losing,
        lock,
        async (signal) => {
          await sleep(200);
          return signal.reason;
        },
        { ttlMs: 150 },
      );
      expect(reason).toBeInstanceOf(LockLostError);
    });

    it("two stores on the same URL share data and exclude each other", async () => {
      const other = await openStore(url);
      try {
        const space = unique("ns");
        const mine = collection(store, space, Counter);
        const theirs = collection(other, space, Counter);
        used.push(store.namespace(space));
        await mine.set("seen", { n: 1 });
        expect(await theirs.get("seen")).toEqual({ n: 1 });

        const lock = unique("lock");
        const lease = await store.locks.acquire(lock, 5_000);
        expect(lease).not.toBeNull();
        expect(await other.locks.acquire(lock, 5_000)).toBeNull();
        if (lease) await store.locks.release(lock, lease.token);

        const opts = { ttlMs: 5_000, pollMs: 5 };
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            i % 2 === 0
              ? withLock(store.locks, lock, () => increment(mine), opts)
              : withLock(other.locks, lock, () => increment(theirs), opts),
          ),
        );
        expect(await mine.get("counter")).toEqual({ n: 20 });
      } finally {
        await other.close();
      }
    });
  });
}

describe("openStore", () => {
  it("names STORE_URL and the accepted forms, without the password", async () => {
    const attempt = openStore("mysql://bot:hunter2@db.example/x");
    await expect(attempt).rejects.toThrow(/STORE_URL.*sqlite:<path>.*redis:\/\/.*postgres:\/\//);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });

  it("opens an SQLite file made before leases had fences, lease and all", async () => {
    const path = join(dir, "before-fences.sqlite");
    const old = new Database(path);
    old.exec(
      "CREATE TABLE store_locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires INTEGER NOT NULL)",
    );
    old
      .prepare("INSERT INTO store_locks VALUES (?, ?, ?)")
      .run("held", "old-token", Date.now() + 60_000);
    old.close();
    const store = await openStore(`sqlite:${path}`);
    try {
      expect(await store.locks.acquire("held", 5_000)).toBeNull();
      const lease = await store.locks.acquire("free", 5_000);
      expect(lease?.generation).toBeGreaterThan(0);
      if (lease) await store.namespace("ns").setFenced("k", "v", lease);
      expect(await store.namespace("ns").get("k")).toBe("v");
    } finally {
      await store.close();
    }
  });

  it("fails, rather than hangs, when the server is unreachable", async () => {
    await expect(openStore("redis://127.0.0.1:1")).rejects.toThrow();
    await expect(openStore("postgres://postgres@127.0.0.1:1/test")).rejects.toThrow();
  });
});
