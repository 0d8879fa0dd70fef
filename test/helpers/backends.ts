/**
 * The four backends every store behaviour is proven on. Redis and PostgreSQL are
 * the real local servers (override with TEST_REDIS_URL / TEST_POSTGRES_URL); when
 * one is down the tests fail, never skip, so tests name their keys uniquely.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Fence, Store } from "../../src/store/store.js";

export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/*
 * Database 0 is shared (keys named uniquely). Those that empty or sweep a whole database
 * have one of their own: 10 bench/scale.ts, 11 and 12 test/e2e/bullmq-journey.test.ts,
 * 13 the reliability secrets part, 14 test/e2e/queue-health.test.ts.
 */
export const POSTGRES_URL =
  process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * A URL per backend, fresh at each call for memory (a name other stores can open
 * too, while one is open) and SQLite (a new file in `dir`).
 */
export function backendUrls(dir: string): Record<string, () => string> {
  const fresh = () => randomBytes(4).toString("hex");
  return {
    memory: () => `memory:m-${fresh()}`,
    sqlite: () => `sqlite:${join(dir, `${fresh()}.sqlite`)}`,
    redis: () => REDIS_URL,
    postgres: () => POSTGRES_URL,
  };
}

/** The same store, as a process sees it whose heartbeat no longer reaches it (blocked, cut off). */
export function withoutHeartbeat(store: Store): Store {
  return {
    kind: store.kind,
    namespace: (name) => store.namespace(name),
    scored: (name) => store.scored(name),
    close: async () => {},
    locks: {
      acquire: (name, ttlMs) => store.locks.acquire(name, ttlMs),
      extend: async () => false,
      release: (name, token) => store.locks.release(name, token),
      seize: (name, ttlMs) => store.locks.seize(name, ttlMs),
    },
  };
}

/**
 * The same store, except that the first fenced write to `namespace` fails with
 * the error `fail` makes (the store going away, the lease lost to another process).
 */
export function failingFirstFencedWrite(
  store: Store,
  namespace: string,
  fail: (fence: Fence) => Error,
): Store & { readonly failed: boolean } {
  let failed = false;
  return {
    kind: store.kind,
    locks: store.locks,
    scored: (name) => store.scored(name),
    close: () => store.close(),
    get failed() {
      return failed;
    },
    namespace(name) {
      const inner = store.namespace(name);
      if (name !== namespace) return inner;
      return {
        get: (key) => inner.get(key),
        set: (key, value, ttlMs) => inner.set(key, value, ttlMs),
        delete: (key) => inner.delete(key),
        take: (key) => inner.take(key),
        setFenced: async (key, value, fence) => {
          if (failed) return inner.setFenced(key, value, fence);
          failed = true;
          throw fail(fence);
        },
      };
    },
  };
}

/**
 * The same store, as a process sees it that can be killed (SIGKILL): after kill(), nothing it
 * asks reaches the store and no answer comes back to it, so its lease runs out unrenewed and
 * whatever it learned after that moment is lost with it.
 */
export function killable(store: Store): { store: Store; kill(): void } {
  let dead = false;
  const never = new Promise<never>(() => {});
  const calls = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, key) {
        const value = Reflect.get(t, key) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (dead) return never;
          return (value.apply(t, args) as Promise<unknown>).then((r) => (dead ? never : r));
        };
      },
    });
  return {
    store: {
      kind: store.kind,
      namespace: (name) => calls(store.namespace(name)),
      scored: (name) => calls(store.scored(name)),
      locks: calls(store.locks),
      ...(store.limits ? { limits: calls(store.limits) } : {}),
      close: async () => {
        if (!dead) await store.close();
      },
    },
    kill: () => {
      dead = true;
    },
  };
}
