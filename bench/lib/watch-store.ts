/**
 * The store as fedimove sees it, counting what the watches do with it: writes per
 * namespace (and to the jobs' scored sets), leases taken or refused per kind (job:…,
 * user:…), and the wall time during which at least one store call was in flight. It
 * passes every call through unchanged; the counters are allocated up front.
 */
import { performance } from "node:perf_hooks";
import type { KeyValue, Locks, ScoredSets, Store } from "../../src/store/store.js";

export interface StoreCounts {
  /** Writes per namespace (jobs, users, snapshots, …) and per scored-set name ("sets:jobs"). */
  sets: Record<string, number>;
  /** Leases taken, and attempts refused because another holder had it, per kind. */
  leases: Record<string, { taken: number; refused: number }>;
  /** Calls made, and wall ms with at least one call in flight (SQLite's run on the event loop). */
  calls: number;
  busyMs: number;
}

const kindOf = (lock: string) =>
  lock.includes(":") ? `${lock.slice(0, lock.indexOf(":"))}:…` : lock;

export function countingStore(
  store: Store,
  namespaces: readonly string[],
  lockKinds: readonly string[],
): { store: Store; counts: StoreCounts } {
  const counts: StoreCounts = { sets: {}, leases: {}, calls: 0, busyMs: 0 };
  for (const n of namespaces) counts.sets[n] = 0;
  for (const k of lockKinds) counts.leases[k] = { taken: 0, refused: 0 };
  let inFlight = 0;
  let since = 0;
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    counts.calls += 1;
    if (inFlight++ === 0) since = performance.now();
    try {
      return await call();
    } finally {
      if (--inFlight === 0) counts.busyMs += performance.now() - since;
    }
  };
  const written = (name: string) => {
    if (counts.sets[name] !== undefined) counts.sets[name] += 1;
  };
  const locks: Locks = {
    async acquire(name, ttlMs) {
      const token = await timed(() => store.locks.acquire(name, ttlMs));
      const c = counts.leases[kindOf(name)];
      if (c) {
        if (token === null) c.refused += 1;
        else c.taken += 1;
      }
      return token;
    },
    extend: (name, token, ttlMs) => timed(() => store.locks.extend(name, token, ttlMs)),
    release: (name, token) => timed(() => store.locks.release(name, token)),
    seize: (name, ttlMs) => timed(() => store.locks.seize(name, ttlMs)),
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
          get: (key) => timed(() => inner.get(key)),
          delete: (key) => timed(() => inner.delete(key)),
          take: (key) => timed(() => inner.take(key)),
          set: (key, value, ttlMs) => {
            written(name);
            return timed(() => inner.set(key, value, ttlMs));
          },
          setFenced: (key, value, fence) => {
            written(name);
            return timed(() => inner.setFenced(key, value, fence));
          },
        };
      },
      scored(name: string): ScoredSets {
        const inner = store.scored(name);
        const label = `sets:${name}`;
        return {
          put: (key, member, score) => {
            written(label);
            return timed(() => inner.put(key, member, score));
          },
          remove: (key, member) => {
            written(label);
            return timed(() => inner.remove(key, member));
          },
          upTo: (key, max) => timed(() => inner.upTo(key, max)),
          scoresUpTo: (key, max) => timed(() => inner.scoresUpTo(key, max)),
          drop: (key) => {
            written(label);
            return timed(() => inner.drop(key));
          },
        };
      },
    },
  };
}
