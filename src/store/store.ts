/**
 * The bot's storage, as the rest of the code sees it. Keyv sits behind this
 * (SQLite, Redis or PostgreSQL, chosen by STORE_URL); nothing outside src/store
 * imports Keyv or a driver, so a step can be tested against an in-memory store.
 *
 * Every call is time-bound: a backend that does not answer within a few seconds
 * (down, unreachable, hung, or a SQLite file locked by someone else) fails the
 * call with StoreUnavailableError (see errors.ts) instead of hanging it.
 */

/**
 * A lease's fencing token: which lease on which lock a write is made under.
 * Generations only grow, on every backend and across processes, so a holder
 * whose lease was lost and taken by another holds an older one forever.
 */
export interface Fence {
  readonly lock: string;
  readonly generation: number;
}

/** A lease as taken: its fence, and the token that extends and releases it. */
export interface Lease extends Fence {
  readonly token: string;
}

/** A typed key-value area. Values are JSON-serialisable. */
export interface KeyValue<T> {
  get(key: string): Promise<T | undefined>;
  /** ttlMs: the value disappears after this long; omitted, it stays. */
  set(key: string, value: T, ttlMs?: number): Promise<void>;
  /** True only for the call that removed a live value: of concurrent deleters, one. */
  delete(key: string): Promise<boolean>;
  /** Reads and deletes in one atomic step: of concurrent takers, exactly one gets the value. */
  take(key: string): Promise<T | undefined>;
  /**
   * set() without a TTL, in one atomic write that first checks that `fence` is
   * still the newest lease on its lock (taken over or released, it is not): a
   * holder that lost its lease cannot overwrite what the next holder did.
   * Throws FencedOutError, having changed nothing, when the check fails.
   */
  setFenced(key: string, value: T, fence: Fence): Promise<void>;
}

/**
 * Leases on a name, atomic on every backend and across processes that share the
 * backend: Redis `SET NX PX`, a conditional upsert in PostgreSQL and in SQLite.
 * A lease expires by itself after ttlMs, so a crashed holder never blocks forever.
 */
export interface Locks {
  /** A lease when it was taken, null when someone else holds it. */
  acquire(name: string, ttlMs: number): Promise<Lease | null>;
  /** Lengthens a lease still held with this token; false when it was lost. */
  extend(name: string, token: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease only if this token still holds it; its fence is refused from then on. */
  release(name: string, token: string): Promise<void>;
  /**
   * Takes the lease whoever holds it, with a new generation: the holder's fenced
   * writes are refused from now on (cancelling a job another process runs).
   */
  seize(name: string, ttlMs: number): Promise<Lease>;
}

/**
 * Ids with a score (a time), per key, in the backend's own structure (scored-sets.ts):
 * each call changes or reads members, never rewrites the set.
 */
export interface Scored {
  member: string;
  score: number;
}

export interface ScoredSets {
  /** Adds the member, or moves it to this score. */
  put(key: string, member: string, score: number): Promise<void>;
  remove(key: string, member: string): Promise<void>;
  /** The members scored at most `max` (Infinity: all), lowest first. */
  upTo(key: string, max: number): Promise<string[]>;
  /** The same, each with its score. */
  scoresUpTo(key: string, max: number): Promise<Scored[]>;
  /** Removes the whole set. */
  drop(key: string): Promise<void>;
}

export interface Store {
  /**
   * The raw values of one namespace, unchecked: open it through collection()
   * with its schema instead. One Keyv instance per namespace (keyv#1160: a
   * shared adapter leaks keys between namespaces).
   */
  namespace(name: string): KeyValue<unknown>;
  readonly locks: Locks;
  /** The scored sets of one name (named like namespaces). */
  scored(name: string): ScoredSets;
  /** Limits shared by every process on this backend (Redis); absent, each process keeps its own. */
  readonly limits?: SharedLimits;
  /** "sqlite" | "redis" | "postgres" | "memory", for logs and benchmarks. */
  readonly kind: string;
  close(): Promise<void>;
}

/**
 * Rate limits kept where every process sharing the backend sees them (Redis), so that
 * processes behind one address together never send more than one may. Each call is
 * one atomic script on the backend's own clock; waits come back in ms from now.
 */
export interface SharedLimits {
  /**
   * Books the earliest send that keeps every stretch of `windowMs + slackMs` at or under
   * `limit` sends and comes after any block: how long to wait for it, and how long after
   * the send booked before it (-1 when none is remembered).
   */
  book(
    key: string,
    limit: number,
    windowMs: number,
    slackMs: number,
  ): Promise<{ waitMs: number; gapMs: number }>;
  /** Nothing under this key is booked before `ms` from now (a longer block already set stays). */
  block(key: string, ms: number): Promise<void>;
  unblock(key: string): Promise<void>;
  /**
   * A window a server announced (its remaining count and reset): kept at the lower count
   * when it is the same window. `exhausted` (a 429) sets the count to none.
   */
  observeWindow(
    key: string,
    remaining: number,
    resetInMs: number,
    exhausted: boolean,
  ): Promise<void>;
  /** Takes one from the announced window: 0 when taken (or none is known), else ms to its reset. */
  takeWindow(key: string): Promise<number>;
  /**
   * A token bucket refilled at `perMs`, holding at most `capacity`: takes `n` and answers 0, or
   * answers the ms until `n` fit. `force` takes them anyway (a debt repaid by the refill), and
   * answers the ms until the refill has paid the debt back (0 when there was room).
   */
  takeTokens(
    key: string,
    n: number,
    perMs: number,
    capacity: number,
    force?: boolean,
  ): Promise<number>;
}
