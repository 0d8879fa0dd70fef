/**
 * Rate limits in Redis, shared by every process on it: each operation is one Lua script,
 * atomic, on Redis's own clock (TIME), so processes on several machines agree on "now".
 *
 *  - book: a sliding log of the latest `limit` send times per key (a list, oldest first);
 *    the next send goes no earlier than the one `limit` back plus the window (and its slack),
 *    nor before a block. Booked times only grow, so the list stays in order.
 *  - block/unblock: a key holding the time a block ends.
 *  - observeWindow/takeWindow: a server's announced window (X-RateLimit-Remaining/Reset),
 *    taken from by every process.
 *  - takeTokens: a token bucket (the watcher's per-server hour budget).
 */
import type { RedisScripts } from "./locks-redis.js";
import type { SharedLimits } from "./store.js";

const NOW = `local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: log, block. ARGV: limit, window, slack. Returns {wait, gap}. */
const BOOK = `${NOW}
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local slack = tonumber(ARGV[3])
local at = now
local blocked = tonumber(redis.call("GET", KEYS[2]) or "0")
if blocked + slack > at then at = blocked + slack end
local n = redis.call("LLEN", KEYS[1])
if n >= limit then
  local oldest = tonumber(redis.call("LINDEX", KEYS[1], n - limit))
  if oldest + window + slack > at then at = oldest + window + slack end
end
local gap = -1
if n > 0 then
  local last = tonumber(redis.call("LINDEX", KEYS[1], -1))
  if last > at then at = last end
  gap = at - last
end
redis.call("RPUSH", KEYS[1], at)
redis.call("LTRIM", KEYS[1], -limit, -1)
redis.call("PEXPIRE", KEYS[1], at - now + window + slack + 1000)
return {at - now, gap}`;

/** KEYS: block. ARGV: ms. */
const BLOCK = `${NOW}
local until_ = now + tonumber(ARGV[1])
local held = tonumber(redis.call("GET", KEYS[1]) or "0")
if held < until_ then redis.call("SET", KEYS[1], until_, "PX", tonumber(ARGV[1]) + 1000) end
return 1`;

/** KEYS: window. ARGV: remaining, reset in ms, exhausted. */
const OBSERVE = `${NOW}
local reset = now + tonumber(ARGV[2])
local remaining = tonumber(ARGV[1])
if ARGV[3] == "1" then remaining = 0 end
local prev = redis.call("HMGET", KEYS[1], "r", "reset")
if prev[1] and math.abs(tonumber(prev[2]) - reset) < 1000 then
  remaining = math.min(tonumber(prev[1]), remaining)
end
redis.call("HSET", KEYS[1], "r", remaining, "reset", reset)
redis.call("PEXPIRE", KEYS[1], math.max(1, reset - now) + 1000)
return 1`;

/** KEYS: window. Returns 0 when taken, else ms to the reset. */
const TAKE_WINDOW = `${NOW}
local w = redis.call("HMGET", KEYS[1], "r", "reset")
if not w[1] or now >= tonumber(w[2]) then return 0 end
if tonumber(w[1]) > 0 then
  redis.call("HINCRBY", KEYS[1], "r", -1)
  return 0
end
return tonumber(w[2]) - now`;

/** KEYS: bucket. ARGV: n, per ms, capacity, force. Returns 0 when taken, else ms until n fit. */
const TOKENS = `${NOW}
local n = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local b = redis.call("HMGET", KEYS[1], "tokens", "at")
local tokens = capacity
if b[1] then
  tokens = math.min(capacity, tonumber(b[1]) + (now - tonumber(b[2])) * perMs)
end
local taken = 0
local wait = 0
if tokens >= n then
  tokens = tokens - n
elseif ARGV[4] == "1" then
  tokens = tokens - n
  wait = math.ceil(-tokens / perMs)
else
  wait = math.ceil((n - tokens) / perMs)
end
redis.call("HSET", KEYS[1], "tokens", tostring(tokens), "at", now)
redis.call("PEXPIRE", KEYS[1], math.ceil((capacity - math.min(tokens, capacity)) / perMs) + 60000)
return wait`;

const key = (kind: string, name: string) => `limit:v1:${kind}:${name}`;

export class RedisLimits implements SharedLimits {
  constructor(private readonly client: RedisScripts) {}

  async book(name: string, limit: number, windowMs: number, slackMs: number) {
    const reply = (await this.client.eval(BOOK, {
      keys: [key("log", name), key("block", name)],
      arguments: [String(limit), String(windowMs), String(slackMs)],
    })) as [number, number];
    return { waitMs: Math.max(0, Number(reply[0])), gapMs: Number(reply[1]) };
  }

  async block(name: string, ms: number): Promise<void> {
    await this.client.eval(BLOCK, {
      keys: [key("block", name)],
      arguments: [String(Math.max(1, Math.ceil(ms)))],
    });
  }

  async unblock(name: string): Promise<void> {
    await this.client.eval(`return redis.call("DEL", KEYS[1])`, {
      keys: [key("block", name)],
      arguments: [],
    });
  }

  async observeWindow(name: string, remaining: number, resetInMs: number, exhausted: boolean) {
    await this.client.eval(OBSERVE, {
      keys: [key("window", name)],
      arguments: [String(remaining), String(Math.ceil(resetInMs)), exhausted ? "1" : "0"],
    });
  }

  async takeWindow(name: string): Promise<number> {
    return Number(
      await this.client.eval(TAKE_WINDOW, { keys: [key("window", name)], arguments: [] }),
    );
  }

  async takeTokens(name: string, n: number, perMs: number, capacity: number, force = false) {
    return Number(
      await this.client.eval(TOKENS, {
        keys: [key("tokens", name)],
        arguments: [String(n), String(perMs), String(capacity), force ? "1" : "0"],
      }),
    );
  }
}
