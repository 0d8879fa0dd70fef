/**
 * The Store over Keyv, whatever the backend. Each namespace gets its own Keyv and
 * its own adapter instance: Keyv writes its namespace into the adapter, so one
 * adapter shared by two Keyvs serves whichever namespace was set last and clear()
 * empties the wrong one (keyv#1160). Connections (a Redis client, a pg pool, the
 * SQLite handle) are shared; only the thin adapters are per namespace.
 *
 * Keyv has no atomic get-and-delete and no conditional write; each backend adds
 * both on the key and the serialised value exactly as Keyv and its adapter
 * store them, so Keyv reads back what they wrote.
 */
import { Keyv } from "keyv";
import { bounded, FencedOutError } from "./errors.js";
import type { Fence, KeyValue, Locks, ScoredSets, SharedLimits, Store } from "./store.js";

/** A namespace as Keyv serves it. clear() is for tests and maintenance only. */
export interface Namespace<T> extends KeyValue<T> {
  clear(): Promise<void>;
}

/** One namespace's adapter, and what Keyv lacks, on keys as Keyv hands them to it. */
export interface Adapter {
  /** What Keyv is given as its store. */
  store: object;
  /** Deletes the key; the serialised value it held, if any. */
  take(key: string): Promise<string | undefined>;
  /** Writes a serialised value without TTL only if the fence holds; false when refused. */
  setFenced(key: string, value: string, fence: Fence): Promise<boolean>;
}

export interface Backend {
  kind: string;
  locks: Locks;
  /** Rate limits shared through the backend, where it can keep them (Redis). */
  limits?: SharedLimits;
  /** A fresh adapter for one namespace; never handed out twice. */
  adapter(namespace: string): Adapter;
  /**
   * True when the adapter keeps namespaces apart itself (@keyv/redis, ours for
   * SQLite, a Map per namespace). Otherwise we put "<namespace>:" in front of the
   * key ourselves, as @keyv/postgres's clear() expects.
   */
  isolates: boolean;
  /** The scored sets of one name, in the backend's own structure (scored-sets.ts). */
  scored(name: string): ScoredSets;
  /** Closes the shared connection, once. */
  close(): Promise<void>;
}

/** How long one call may take before it fails as unavailable (openStore's default). */
export const CALL_TIMEOUT_MS = 5_000;

/**
 * No ":" (Keyv-style "<namespace>:<key>" keys would become ambiguous) and none of
 * LIKE's "%" or "_" (@keyv/postgres clears a namespace with `LIKE 'ns:%'`).
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/;

export class KeyvStore implements Store {
  readonly kind: string;
  readonly locks: Locks;
  readonly limits?: SharedLimits;
  readonly #backend: Backend;
  readonly #callMs: number;
  readonly #namespaces = new Map<string, { keyv: Keyv; adapter: Adapter }>();
  #closed = false;

  constructor(backend: Backend, opts: { callTimeoutMs?: number } = {}) {
    this.#backend = backend;
    this.kind = backend.kind;
    this.#callMs = opts.callTimeoutMs ?? CALL_TIMEOUT_MS;
    const locks = backend.locks;
    this.locks = {
      acquire: (name, ttlMs) => this.#call(() => locks.acquire(name, ttlMs)),
      extend: (name, token, ttlMs) => this.#call(() => locks.extend(name, token, ttlMs)),
      release: (name, token) => this.#call(() => locks.release(name, token)),
      seize: (name, ttlMs) => this.#call(() => locks.seize(name, ttlMs)),
    };
    const limits = backend.limits;
    if (limits) {
      this.limits = {
        book: (...a) => this.#call(() => limits.book(...a)),
        block: (...a) => this.#call(() => limits.block(...a)),
        unblock: (...a) => this.#call(() => limits.unblock(...a)),
        observeWindow: (...a) => this.#call(() => limits.observeWindow(...a)),
        takeWindow: (...a) => this.#call(() => limits.takeWindow(...a)),
        takeTokens: (...a) => this.#call(() => limits.takeTokens(...a)),
      };
    }
  }

  namespace(name: string): Namespace<unknown> {
    if (!NAME.test(name)) {
      throw new Error(`namespace "${name}" must be letters, digits, "-" or "." (at most 64)`);
    }
    const { keyv, adapter } = this.#open(name);
    const keyOf = this.#backend.isolates ? (key: string) => key : (key: string) => `${name}:${key}`;
    return {
      get: (key) => this.#call(() => keyv.get(keyOf(key))),
      set: async (key, value, ttlMs) => {
        // Keyv reads a TTL of 0 as "forever"; here it would be a mistake, so say so.
        if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
          throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
        }
        const ttl = ttlMs === undefined ? undefined : Math.ceil(ttlMs);
        if (!(await this.#call(() => keyv.set(keyOf(key), value, ttl)))) {
          throw new Error(`store (${this.kind}) refused to set a key in namespace "${name}"`);
        }
      },
      delete: (key) => this.#call(() => keyv.delete(keyOf(key))),
      take: (key) =>
        this.#call(async () => {
          const raw = await adapter.take(keyOf(key));
          const data = raw === undefined ? undefined : await keyv.deserializeData(raw);
          // Keyv keeps the expiry in the value too, and is the judge of it on every backend.
          if (!data || (typeof data.expires === "number" && data.expires < Date.now())) {
            return undefined;
          }
          return data.value;
        }),
      setFenced: (key, value, fence) =>
        this.#call(async () => {
          const raw = await keyv.serializeData({ value, expires: undefined });
          if (typeof raw !== "string") throw new Error("Keyv did not serialise the value");
          if (!(await adapter.setFenced(keyOf(key), raw, fence))) {
            throw new FencedOutError(fence.lock, fence.generation);
          }
        }),
      clear: () => this.#call(() => keyv.clear()),
    };
  }

  scored(name: string): ScoredSets {
    if (!NAME.test(name)) {
      throw new Error(`scored set "${name}" must be letters, digits, "-" or "." (at most 64)`);
    }
    const sets = this.#backend.scored(name);
    return {
      put: (key, member, score) => this.#call(() => sets.put(key, member, score)),
      remove: (key, member) => this.#call(() => sets.remove(key, member)),
      upTo: (key, max) => this.#call(() => sets.upTo(key, max)),
      scoresUpTo: (key, max) => this.#call(() => sets.scoresUpTo(key, max)),
      drop: (key) => this.#call(() => sets.drop(key)),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Not keyv.disconnect(): the adapters share one connection, and @keyv/postgres's
    // disconnect() ends a pool global to the module, whoever else uses it.
    await this.#backend.close();
  }

  /** Every call: refused once closed, and bounded in time (errors.ts). */
  #call<T>(call: () => Promise<T>): Promise<T> {
    // @keyv/redis would silently reconnect a closed client and keep the process alive.
    if (this.#closed) return Promise.reject(new Error(`store (${this.kind}) is closed`));
    return bounded(this.kind, this.#callMs, call);
  }

  #open(name: string): { keyv: Keyv; adapter: Adapter } {
    const cached = this.#namespaces.get(name);
    if (cached) return cached;
    const adapter = this.#backend.adapter(name);
    const keyv = new Keyv({
      store: adapter.store,
      namespace: name,
      // Keyv's own prefixing skips keys that already start with "<namespace>:", so
      // "ns:x" and "x" would meet; prefixing is done by the adapter or by us instead.
      useKeyPrefix: false,
      // Otherwise Keyv swallows a failed read as "not found" and a failed write as false.
      throwOnErrors: true,
      // Failures reach the caller of the failed call; as "error" events, with nobody
      // listening, a dropped Redis connection would throw from inside the driver.
      emitErrors: false,
    });
    const opened = { keyv, adapter };
    this.#namespaces.set(name, opened);
    return opened;
  }
}
