/**
 * Long work in short slices, so that other users' turns (and Telegram's updates)
 * never wait long behind one user's upload: the event loop gets a turn once a
 * slice's worth of work has gone by without one.
 */
import { performance } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";

/** Well under what anyone notices, and a few pieces' or a few hundred rows' work. */
export const SLICE_MS = 5;

/** A function to await between small units of work: it yields once every `ms` of work. */
export function timeSlicer(ms: number = SLICE_MS): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < ms) return;
    await nextTurn();
    since = performance.now();
  };
}
