/**
 * Leases in one process, for `memory:` stores (tests and benchmarks). The other
 * backends follow the same rules: a lease is held until it expires or its token
 * releases it; an expired lease can neither be extended nor released; and its
 * fence holds until someone else takes the lock or the holder releases it.
 */
import { randomUUID } from "node:crypto";
import type { Fence, Lease, Locks } from "./store.js";

/**
 * Every backend checks a TTL the same way: a zero or negative TTL would be a lease
 * that is already expired (SQLite, PostgreSQL) or an error (Redis `PX 0`).
 */
export function leaseMs(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`lease TTL must be a positive number of milliseconds, got ${ttlMs}`);
  }
  return Math.ceil(ttlMs);
}

interface Held {
  token: string;
  generation: number;
  expires: number;
}

export class MemoryLocks implements Locks {
  /** The newest lease per name, kept past its expiry (its fence still holds) until taken or released. */
  readonly #leases = new Map<string, Held>();
  #generation = 0;

  #live(name: string, now: number): Held | undefined {
    const lease = this.#leases.get(name);
    return lease && lease.expires > now ? lease : undefined;
  }

  #grant(name: string, ms: number): Lease {
    const held = { token: randomUUID(), generation: ++this.#generation, expires: Date.now() + ms };
    this.#leases.set(name, held);
    return { lock: name, token: held.token, generation: held.generation };
  }

  async acquire(name: string, ttlMs: number): Promise<Lease | null> {
    const ms = leaseMs(ttlMs);
    return this.#live(name, Date.now()) ? null : this.#grant(name, ms);
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const ms = leaseMs(ttlMs);
    const now = Date.now();
    const lease = this.#live(name, now);
    if (lease?.token !== token) return false;
    lease.expires = now + ms;
    return true;
  }

  async release(name: string, token: string): Promise<void> {
    if (this.#leases.get(name)?.token === token) this.#leases.delete(name);
  }

  async seize(name: string, ttlMs: number): Promise<Lease> {
    return this.#grant(name, leaseMs(ttlMs));
  }

  /** Synchronous, so a memory store's fenced write checks and writes with nothing in between. */
  holds(fence: Fence): boolean {
    return this.#leases.get(fence.lock)?.generation === fence.generation;
  }
}
