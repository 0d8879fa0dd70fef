/**
 * A store whose server goes away, or hangs, while the bot runs: each call fails
 * with StoreUnavailableError instead of waiting forever, and calls work again once
 * the server is back. The servers are the real local Redis and PostgreSQL, reached
 * through a proxy the test takes down or pauses (test/helpers/tcp-proxy.ts).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../src/store/errors.js";
import { POSTGRES_URL, REDIS_URL } from "../helpers/backends.js";
import { closedAfterEach } from "../helpers/closing.js";
import { eventually, proxiedStore } from "../helpers/tcp-proxy.js";

const servers = { redis: REDIS_URL, postgres: POSTGRES_URL };
const closing = closedAfterEach<{ close(): Promise<void> }>();
const unique = (what: string) => `o-${randomBytes(4).toString("hex")}-${what}`;

for (const [name, url] of Object.entries(servers)) {
  describe(name, () => {
    it("a server gone: every call fails as unavailable, and works again once it is back", async () => {
      const { proxy, store } = await proxiedStore(url, closing);
      const kv = store.namespace(unique("ns"));
      await kv.set("k", "before");

      await proxy.down();
      await expect(kv.get("k")).rejects.toThrow(StoreUnavailableError);
      await expect(kv.set("k", "during")).rejects.toThrow(StoreUnavailableError);
      await expect(kv.take("k")).rejects.toThrow(StoreUnavailableError);
      await expect(store.locks.acquire(unique("lock"), 5_000)).rejects.toThrow(
        StoreUnavailableError,
      );

      await proxy.up();
      await eventually(async () => expect(await kv.get("k")).toBe("before"));
      await kv.delete("k");
    });

    it("a server that hangs: calls fail as unavailable, and are answered once it resumes", async () => {
      const { proxy, store } = await proxiedStore(url, closing);
      const kv = store.namespace(unique("ns"));
      await kv.set("k", "before");

      proxy.pause();
      const error = await kv.get("k").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(String(error)).toMatch(/store \((redis|postgres)\) unavailable/);
      await expect(store.locks.acquire(unique("lock"), 5_000)).rejects.toThrow(
        StoreUnavailableError,
      );

      await proxy.up();
      await eventually(async () => expect(await kv.get("k")).toBe("before"));
      await kv.delete("k");
    });
  });
}
