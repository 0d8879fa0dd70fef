/**
 * Leases in Redis: `SET NX PX` takes one; extending and releasing compare the token
 * and act in one Lua script, so a holder whose lease expired and was taken by
 * someone else cannot lengthen or delete the new holder's lease.
 */
import { randomUUID } from "node:crypto";
import { leaseMs } from "./locks-memory.js";
import type { Locks } from "./store.js";

/** The two commands used here, so any node-redis v5 client fits. */
interface RedisCommands {
  set(
    key: string,
    value: string,
    options: { condition: "NX"; expiration: { type: "PX"; value: number } },
  ): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

const EXTEND = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`;

const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`;

/**
 * Keyv keys look like "<namespace>::<key>" and namespaces have no ":", so a key
 * whose first ":" is followed by "v" can never be one of them.
 */
const keyOf = (name: string) => `lock:v1:${name}`;

export class RedisLocks implements Locks {
  /** The connection is shared with the Keyv adapters; the store closes it. */
  constructor(private readonly client: RedisCommands) {}

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const ms = leaseMs(ttlMs);
    const token = randomUUID();
    const reply = await this.client.set(keyOf(name), token, {
      condition: "NX",
      expiration: { type: "PX", value: ms },
    });
    return reply === "OK" ? token : null;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const ms = leaseMs(ttlMs);
    const reply = await this.client.eval(EXTEND, {
      keys: [keyOf(name)],
      arguments: [token, String(ms)],
    });
    return reply === 1;
  }

  async release(name: string, token: string): Promise<void> {
    await this.client.eval(RELEASE, { keys: [keyOf(name)], arguments: [token] });
  }
}
