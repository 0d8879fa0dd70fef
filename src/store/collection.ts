/**
 * A namespace opened with its schema: every value read back is checked, so
 * nothing outside src/store ever trusts stored data `as T`. A value that no
 * longer fits (an old shape, a hand edit, a bug) is set aside in "unreadable"
 * under its namespace and key, reported in the log, and read as absent: one bad
 * record costs that record, never a crash in the middle of someone's turn.
 */
import type { z } from "zod";
import { log } from "../log.js";
import type { KeyValue, Store } from "./store.js";

/** Where records that failed their schema are kept, newest last, a few per key. */
export const UNREADABLE = "unreadable";
const KEPT_PER_KEY = 5;

export interface SetAside {
  at: number;
  issue: string;
  value: unknown;
}

export function collection<T>(
  store: Store,
  name: string,
  schema: z.ZodType<T>,
  now: () => number = Date.now,
): KeyValue<T> {
  const raw = store.namespace(name);
  /** The value if it fits; otherwise set aside, logged, and read as absent. */
  const checked = async (key: string, value: unknown): Promise<T | undefined> => {
    if (value === undefined) return undefined;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "the record";
    await setAside(store, `${name}:${key}`, {
      at: now(),
      issue: `${where}: ${issue?.message ?? "does not fit"}`,
      value,
    });
    log.error("stored record does not fit; set aside", { namespace: name, key, at: where });
    return undefined;
  };
  return {
    async get(key) {
      const value = await raw.get(key);
      const fits = await checked(key, value);
      if (value !== undefined && fits === undefined) await raw.delete(key);
      return fits;
    },
    take: async (key) => checked(key, await raw.take(key)),
    set: (key, value, ttlMs) => raw.set(key, value, ttlMs),
    setFenced: (key, value, fence) => raw.setFenced(key, value, fence),
    delete: (key) => raw.delete(key),
  };
}

async function setAside(store: Store, key: string, entry: SetAside): Promise<void> {
  const unreadable = store.namespace(UNREADABLE);
  const before = await unreadable.get(key);
  const kept = Array.isArray(before) ? before : [];
  await unreadable.set(key, [...kept, entry].slice(-KEPT_PER_KEY));
}
