/**
 * The Store over Keyv, whatever the backend. Each namespace gets its own Keyv and
 * its own adapter instance: Keyv writes its namespace into the adapter, so one
 * adapter shared by two Keyvs serves whichever namespace was set last and clear()
 * empties the wrong one (keyv#1160). Connections (a Redis client, a pg pool, the
 * SQLite handle) are shared; only the thin adapters are per namespace.
 */
import { Keyv } from "keyv";
import type { KeyValue, Locks, Store } from "./store.js";

/** A namespace as Keyv serves it. clear() is for tests and maintenance only. */
export interface Namespace<T> extends KeyValue<T> {
  clear(): Promise<void>;
}

export interface Backend {
  kind: string;
  locks: Locks;
  /** A fresh adapter (or Map) for one namespace; never handed out twice. */
  adapter(namespace: string): object;
  /**
   * True when the adapter keeps namespaces apart itself (@keyv/redis, ours for
   * SQLite, a Map per namespace). Otherwise we put "<namespace>:" in front of the
   * key ourselves, as @keyv/postgres's clear() expects.
   */
  isolates: boolean;
  /** Closes the shared connection, once. */
  close(): Promise<void>;
}

/**
 * No ":" (Keyv-style "<namespace>:<key>" keys would become ambiguous) and none of
 * LIKE's "%" or "_" (@keyv/postgres clears a namespace with `LIKE 'ns:%'`).
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/;

export class KeyvStore implements Store {
  readonly kind: string;
  readonly locks: Locks;
  readonly #backend: Backend;
  readonly #keyvs = new Map<string, Keyv>();
  #closed = false;

  constructor(backend: Backend) {
    this.#backend = backend;
    this.kind = backend.kind;
    this.locks = backend.locks;
  }

  namespace(name: string): Namespace<unknown> {
    if (!NAME.test(name)) {
      throw new Error(`namespace "${name}" must be letters, digits, "-" or "." (at most 64)`);
    }
    const keyv = this.#keyvFor(name);
    const keyOf = this.#backend.isolates ? (key: string) => key : (key: string) => `${name}:${key}`;
    return {
      get: async (key) => {
        this.#checkOpen();
        return keyv.get(keyOf(key));
      },
      set: async (key, value, ttlMs) => {
        this.#checkOpen();
        // Keyv reads a TTL of 0 as "forever"; here it would be a mistake, so say so.
        if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
          throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
        }
        const ttl = ttlMs === undefined ? undefined : Math.ceil(ttlMs);
        if (!(await keyv.set(keyOf(key), value, ttl))) {
          throw new Error(`store (${this.kind}) refused to set a key in namespace "${name}"`);
        }
      },
      delete: async (key) => {
        this.#checkOpen();
        return keyv.delete(keyOf(key));
      },
      clear: async () => {
        this.#checkOpen();
        await keyv.clear();
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Not keyv.disconnect(): the adapters share one connection, and @keyv/postgres's
    // disconnect() ends a pool global to the module, whoever else uses it.
    await this.#backend.close();
  }

  #keyvFor(name: string): Keyv {
    const cached = this.#keyvs.get(name);
    if (cached) return cached;
    const keyv = new Keyv({
      store: this.#backend.adapter(name),
      namespace: name,
      // Keyv's own prefixing skips keys that already start with "<namespace>:", so
      // "ns:x" and "x" would meet; prefixing is done by the adapter or by us instead.
      useKeyPrefix: false,
      // Otherwise Keyv swallows a failed read as "not found" and a failed write as false.
      throwOnErrors: true,
    });
    this.#keyvs.set(name, keyv);
    return keyv;
  }

  #checkOpen(): void {
    // @keyv/redis would silently reconnect a closed client and keep the process alive.
    if (this.#closed) throw new Error(`store (${this.kind}) is closed`);
  }
}
