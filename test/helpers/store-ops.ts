/**
 * A store seen through a window: every call counted by area and operation ("telegram-inbox.get",
 * "locks.acquire:user" — a lock by its name's prefix —, "scored:outbox-index.put"), and an outage to switch on, during which every
 * call fails as an unreachable backend does (StoreUnavailableError) and changes nothing.
 */
import { StoreUnavailableError } from "../../src/store/errors.js";
import type { Store } from "../../src/store/store.js";

export interface ObservedStore {
  store: Store;
  /** Calls made so far, by "area.operation" (outage refusals included). */
  readonly ops: Map<string, number>;
  /** Calls made so far, all areas. */
  total(): number;
  /** While true, every call fails with StoreUnavailableError. */
  down: boolean;
}

export function observed(store: Store): ObservedStore {
  const ops = new Map<string, number>();
  const seen: ObservedStore = {
    store: undefined as unknown as Store,
    ops,
    total: () => [...ops.values()].reduce((a, b) => a + b, 0),
    down: false,
  };
  const calls = <T extends object>(area: string, target: T): T =>
    new Proxy(target, {
      get(t, key) {
        const value = Reflect.get(t, key) as unknown;
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          // A lock's calls are counted by what it locks ("locks.acquire:user").
          const what = area === "locks" ? `:${String(args[0]).split(":")[0]}` : "";
          const name = `${area}.${String(key)}${what}`;
          ops.set(name, (ops.get(name) ?? 0) + 1);
          if (seen.down) throw new StoreUnavailableError(store.kind, "switched off by the test");
          return value.apply(t, args);
        };
      },
    });
  seen.store = {
    kind: store.kind,
    namespace: (name) => calls(name, store.namespace(name)),
    scored: (name) => calls(`scored:${name}`, store.scored(name)),
    locks: calls("locks", store.locks),
    ...(store.limits ? { limits: calls("limits", store.limits) } : {}),
    close: () => store.close(),
  };
  return seen;
}
