/** Small pieces the steps after the snapshot share. */
import type { StateOf } from "../../model/state.js";

type WithJourney = StateOf<"new-choose">;

/** The part of a state every later step carries on. */
export const journeyOf = (s: Pick<WithJourney, "source" | "follows" | "snapshotAt">) => ({
  source: s.source,
  follows: s.follows,
  snapshotAt: s.snapshotAt,
});

/** @ada@hachyderm.io, or the server for a user who uploaded a file. */
export function oldHandle(s: Pick<WithJourney, "source">): string | undefined {
  return s.source.kind === "account" ? s.source.old.handle : undefined;
}
