/**
 * Leases in Redis. Each lease is a key holding its token, with the lease's TTL
 * (`SET NX PX`), and a fence hash holding its generation (from one INCR counter)
 * and token. Every operation is one Lua script, so it is atomic: a holder whose
 * lease expired and was taken by someone else can neither lengthen nor delete
 * the new holder's lease, nor pass a fenced write.
 *
 * The fence outlives the lease (a holder whose lease merely expired, untaken,
 * may still write) but not forever: it goes at release, or a day after the last
 * renewal, which only ever refuses a write, never lets a stale one through.
 */
import { randomUUID } from "node:crypto";
import { leaseMs } from "./locks-memory.js";
import type { Lease, Locks } from "./store.js";

/** The one command used here, so any node-redis v5 client fits. */
export interface RedisScripts {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

const FENCE_KEPT_MS = 24 * 3_600_000;

/** KEYS: lease, fence, counter. ARGV: token, ttl, fence ttl, "force". Returns the generation or 0. */
const GRANT = `if ARGV[4] ~= "force" and redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
local g = redis.call("INCR", KEYS[3])
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
redis.call("DEL", KEYS[2])
redis.call("HSET", KEYS[2], "g", g, "t", ARGV[1])
redis.call("PEXPIRE", KEYS[2], ARGV[3])
return g`;

const EXTEND = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[2], ARGV[3])
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`;

/** The fence goes with its own lease only: it may outlive an expired lease key. */
const RELEASE = `if redis.call("HGET", KEYS[2], "t") == ARGV[1] then redis.call("DEL", KEYS[2]) end
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`;

/**
 * Keyv keys look like "<namespace>::<key>" and namespaces have no ":", so a key
 * whose first ":" is followed by "v" can never be one of them.
 */
const leaseKey = (name: string) => `lock:v1:${name}`;
export const redisFenceKey = (name: string) => `fence:v1:${name}`;
const COUNTER = "generation:v1";

/**
 * The script of a fenced write: KEYS[1] the value's key, KEYS[2] the fence;
 * ARGV[1] the value, ARGV[2] the generation. 1 when written, 0 when refused.
 */
export const REDIS_FENCED_SET = `if redis.call("HGET", KEYS[2], "g") == ARGV[2] then
  redis.call("SET", KEYS[1], ARGV[1])
  return 1
end
return 0`;

export class RedisLocks implements Locks {
  /** The connection is shared with the Keyv adapters; the store closes it. */
  constructor(private readonly client: RedisScripts) {}

  async acquire(name: string, ttlMs: number): Promise<Lease | null> {
    return this.#grant(name, leaseMs(ttlMs), false);
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const ms = leaseMs(ttlMs);
    const reply = await this.client.eval(EXTEND, {
      keys: [leaseKey(name), redisFenceKey(name)],
      arguments: [token, String(ms), String(Math.max(ms, FENCE_KEPT_MS))],
    });
    return reply === 1;
  }

  async release(name: string, token: string): Promise<void> {
    await this.client.eval(RELEASE, {
      keys: [leaseKey(name), redisFenceKey(name)],
      arguments: [token],
    });
  }

  async seize(name: string, ttlMs: number): Promise<Lease> {
    const lease = await this.#grant(name, leaseMs(ttlMs), true);
    if (!lease) throw new Error(`Redis granted no lease on "${name}" to a forced take`);
    return lease;
  }

  async #grant(name: string, ms: number, force: boolean): Promise<Lease | null> {
    const token = randomUUID();
    const reply = await this.client.eval(GRANT, {
      keys: [leaseKey(name), redisFenceKey(name), COUNTER],
      arguments: [token, String(ms), String(Math.max(ms, FENCE_KEPT_MS)), force ? "force" : ""],
    });
    return typeof reply === "number" && reply > 0 ? { lock: name, token, generation: reply } : null;
  }
}
