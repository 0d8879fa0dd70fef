/**
 * The store as fedimove sees it, counting what the watches do with it: writes per
 * namespace and leases taken or refused per kind (job:…, user:…, job-index). It passes
 * every call through unchanged; the counters are allocated up front.
 */
import type { KeyValue, Locks, Store } from "../../src/store/store.js";

export interface StoreCounts {
  /** Writes per namespace (jobs, job-index, users, snapshots, …). */
  sets: Record<string, number>;
  /** Leases taken, and attempts refused because another holder had it, per kind. */
  leases: Record<string, { taken: number; refused: number }>;
}

const kindOf = (lock: string) =>
  lock.includes(":") ? `${lock.slice(0, lock.indexOf(":"))}:…` : lock;

export function countingStore(
  store: Store,
  namespaces: readonly string[],
  lockKinds: readonly string[],
): { store: Store; counts: StoreCounts } {
  const counts: StoreCounts = { sets: {}, leases: {} };
  for (const n of namespaces) counts.sets[n] = 0;
  for (const k of lockKinds) counts.leases[k] = { taken: 0, refused: 0 };
  const locks: Locks = {
    async acquire(name, ttlMs) {
      const token = await store.locks.acquire(name, ttlMs);
      const c = counts.leases[kindOf(name)];
      if (c) {
        if (token === null) c.refused += 1;
        else c.taken += 1;
      }
      return token;
    },
    extend: (name, token, ttlMs) => store.locks.extend(name, token, ttlMs),
    release: (name, token) => store.locks.release(name, token),
    seize: (name, ttlMs) => store.locks.seize(name, ttlMs),
  };
  return {
    counts,
    store: {
      kind: store.kind,
      locks,
      close: () => store.close(),
      namespace(name: string): KeyValue<unknown> {
        const inner = store.namespace(name);
        return {
          get: (key) => inner.get(key),
          delete: (key) => inner.delete(key),
          take: (key) => inner.take(key),
          set: (key, value, ttlMs) => {
            if (counts.sets[name] !== undefined) counts.sets[name] += 1;
            return inner.set(key, value, ttlMs);
          },
          setFenced: (key, value, fence) => {
            if (counts.sets[name] !== undefined) counts.sets[name] += 1;
            return inner.setFenced(key, value, fence);
          },
        };
      },
    },
  };
}
