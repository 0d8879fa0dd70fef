/**
 * The bot's storage, as the rest of the code sees it. Keyv sits behind this
 * (SQLite, Redis or PostgreSQL, chosen by STORE_URL); nothing outside src/store
 * imports Keyv or a driver, so a step can be tested against an in-memory store.
 */

/** A typed key-value area. Values are JSON-serialisable. */
export interface KeyValue<T> {
  get(key: string): Promise<T | undefined>;
  /** ttlMs: the value disappears after this long; omitted, it stays. */
  set(key: string, value: T, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<boolean>;
}

/**
 * Leases on a name, atomic on every backend and across processes that share the
 * backend: Redis `SET NX PX`, a conditional upsert in PostgreSQL and in SQLite.
 * A lease expires by itself after ttlMs, so a crashed holder never blocks forever.
 */
export interface Locks {
  /** A token when the lease was taken, null when someone else holds it. */
  acquire(name: string, ttlMs: number): Promise<string | null>;
  /** Lengthens a lease still held with this token; false when it was lost. */
  extend(name: string, token: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease only if this token still holds it. */
  release(name: string, token: string): Promise<void>;
}

export interface Store {
  /**
   * The raw values of one namespace, unchecked: open it through collection()
   * with its schema instead. One Keyv instance per namespace (keyv#1160: a
   * shared adapter leaks keys between namespaces).
   */
  namespace(name: string): KeyValue<unknown>;
  readonly locks: Locks;
  /** "sqlite" | "redis" | "postgres" | "memory", for logs and benchmarks. */
  readonly kind: string;
  close(): Promise<void>;
}
