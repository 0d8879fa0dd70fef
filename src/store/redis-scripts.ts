/**
 * Lua scripts run by their SHA1 (EVALSHA), not their text: Redis keeps every script it
 * has run, so the text goes once per server, and a turn's four scripted calls (a lease
 * taken and given back, two fenced writes) don't each send and hash it again. A server
 * that doesn't know the script (restarted, SCRIPT FLUSH, failed over) answers NOSCRIPT,
 * and the script is sent whole once more.
 */
import { createHash } from "node:crypto";
import type { RedisScripts } from "./locks-redis.js";

type Options = { keys: string[]; arguments: string[] };

/** The node-redis v5 calls used here. */
export interface RedisScriptClient extends RedisScripts {
  evalSha(sha: string, options: Options): Promise<unknown>;
}

export function bySha(client: RedisScriptClient): RedisScripts {
  const shas = new Map<string, string>();
  return {
    async eval(script, options) {
      let sha = shas.get(script);
      if (!sha) {
        sha = createHash("sha1").update(script).digest("hex");
        shas.set(script, sha);
      }
      try {
        return await client.evalSha(sha, options);
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith("NOSCRIPT"))) throw err;
        return client.eval(script, options);
      }
    },
  };
}
