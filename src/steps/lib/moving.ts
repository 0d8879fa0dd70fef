/** What the steps from the alias to the Move share. */
import type { Handles } from "../../clients/alias-check.js";
import type { Moving, StateOf, Target } from "../../model/state.js";
import { journeyOf } from "./journey.js";

export const movingOf = (s: Moving) => ({
  ...journeyOf(s),
  target: s.target,
  oldHandle: s.oldHandle,
});

export const handles = (s: Pick<Moving, "target" | "oldHandle">): Handles => ({
  newHandle: s.target.handle,
  oldHandle: s.oldHandle,
});

/** How long the bot looks for the Move by itself, from the confirmation or from "I've moved". */
export const WATCH_FOR_MOVE_MS = 30 * 60_000;

export const newHost = (t: Target): string => (t.kind === "microblog" ? t.domain : t.instance.host);

/** The old server's web origin: where its move page is. */
export function oldOrigin(s: Pick<Moving, "source" | "oldHandle">): string {
  if (s.source.kind === "account") return s.source.old.instance.origin;
  return s.source.instance.origin;
}

/** After the import (or the reminder): to the alias, or first ask the old handle when only a file told us the follows. */
export function toAlias(
  s: Pick<StateOf<"import-done">, "source" | "follows" | "snapshotAt" | "target">,
) {
  const base = { ...journeyOf(s), target: s.target };
  if (s.source.kind === "account")
    return { step: "alias" as const, ...base, oldHandle: s.source.old.handle };
  return { step: "old-handle" as const, ...base };
}
