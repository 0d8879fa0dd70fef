/**
 * `memory:` stores, in this process only: for tests and benchmarks. `memory:` alone
 * is private to one Store; `memory:<name>` is shared by every Store opened on that
 * name while one is open, so a test can play two processes sharing a backend.
 */
import { KeyvStore } from "./keyv-store.js";
import { MemoryLocks } from "./locks-memory.js";
import { memoryScoredSets } from "./scored-sets.js";
import type { Store } from "./store.js";

interface Shared {
  maps: Map<string, Map<string, unknown>>;
  locks: MemoryLocks;
  sets: Map<string, Map<string, number>>;
  users: number;
}

const byName = new Map<string, Shared>();

export function openMemoryStore(name = ""): Store {
  const shared = (name && byName.get(name)) || {
    maps: new Map<string, Map<string, unknown>>(),
    locks: new MemoryLocks(),
    sets: new Map<string, Map<string, number>>(),
    users: 0,
  };
  if (name) byName.set(name, shared);
  shared.users += 1;
  return new KeyvStore({
    kind: "memory",
    locks: shared.locks,
    isolates: true,
    scored: memoryScoredSets(shared.sets),
    // Keyv keeps its serialised `{value, expires}` strings in the Map, so values
    // round-trip through JSON and expire exactly as on the other backends.
    adapter: (namespace) => {
      const map = shared.maps.get(namespace) ?? new Map<string, unknown>();
      shared.maps.set(namespace, map);
      // Synchronous from check to write: nothing else runs in between.
      return {
        store: map,
        take: async (key) => {
          const value = map.get(key);
          map.delete(key);
          return typeof value === "string" ? value : undefined;
        },
        setFenced: async (key, value, fence) => {
          if (!shared.locks.holds(fence)) return false;
          map.set(key, value);
          return true;
        },
      };
    },
    close: async () => {
      shared.users -= 1;
      if (name && shared.users === 0) byName.delete(name);
    },
  });
}
