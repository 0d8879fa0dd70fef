/**
 * Leases in one process, for `memory:` stores (tests and benchmarks). The other
 * backends follow the same rules: a lease is held until it expires or its token
 * releases it, and an expired lease can neither be extended nor released.
 */
import { randomUUID } from "node:crypto";
import type { Locks } from "./store.js";

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

interface Lease {
  token: string;
  expires: number;
}

export class MemoryLocks implements Locks {
  readonly #leases = new Map<string, Lease>();

  #held(name: string, now: number): Lease | undefined {
    const lease = this.#leases.get(name);
    if (lease && lease.expires > now) return lease;
    this.#leases.delete(name);
    return undefined;
  }

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const ms = leaseMs(ttlMs);
    const now = Date.now();
    if (this.#held(name, now)) return null;
    const token = randomUUID();
    this.#leases.set(name, { token, expires: now + ms });
    return token;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const ms = leaseMs(ttlMs);
    const now = Date.now();
    const lease = this.#held(name, now);
    if (lease?.token !== token) return false;
    lease.expires = now + ms;
    return true;
  }

  async release(name: string, token: string): Promise<void> {
    if (this.#held(name, Date.now())?.token === token) this.#leases.delete(name);
  }
}
