import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { bySha } from "../../src/store/redis-scripts.js";

/** A Redis that knows the scripts it has been sent whole, as a real one does until SCRIPT FLUSH. */
function fakeRedis() {
  const known = new Set<string>();
  const calls: string[] = [];
  const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");
  return {
    calls,
    flush: () => known.clear(),
    client: {
      async eval(script: string) {
        calls.push("EVAL");
        known.add(sha1(script));
        return 1;
      },
      async evalSha(sha: string) {
        calls.push("EVALSHA");
        if (!known.has(sha)) throw new Error("NOSCRIPT No matching script. Please use EVAL.");
        return 1;
      },
    },
  };
}

describe("Lua scripts by their SHA1", () => {
  it("sends a script whole only when the server doesn't know it, and again after it forgot", async () => {
    const redis = fakeRedis();
    const scripts = bySha(redis.client);
    const run = () => scripts.eval("return 1", { keys: [], arguments: [] });
    expect(await run()).toBe(1);
    expect(await run()).toBe(1);
    expect(redis.calls).toEqual(["EVALSHA", "EVAL", "EVALSHA"]);
    redis.flush(); // restarted, failed over, SCRIPT FLUSH
    expect(await run()).toBe(1);
    expect(redis.calls.slice(3)).toEqual(["EVALSHA", "EVAL"]);
  });

  it("passes any other error on", async () => {
    const scripts = bySha({
      eval: async () => 1,
      evalSha: async () => {
        throw new Error("BUSY Redis is busy running a script");
      },
    });
    await expect(scripts.eval("return 1", { keys: [], arguments: [] })).rejects.toThrow(/^BUSY/);
  });
});
