/** What the steps from the alias to the Move share. */
import { checkMoved, type Handles, type MoveVerdict } from "../../clients/alias-check.js";
import { splitHandle } from "../../model/handle.js";
import type { Moving, StateOf, Target } from "../../model/state.js";
import type { StepContext } from "../step.js";
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

/**
 * Has the old account moved? Its actor first; where that is shown only to signed requests, its
 * public profile over the old server's API.
 */
export function oldAccountMoved(s: Moving, ctx: StepContext): Promise<MoveVerdict> {
  const { user } = splitHandle(s.oldHandle);
  return checkMoved(ctx.world.fediverse, handles(s), () =>
    ctx.world.mastodon(oldOrigin(s), "").lookup(user),
  );
}

/** Why the Move can't be seen from here, in the user's terms. */
export function uncheckedMove(
  v: Extract<MoveVerdict, { kind: "unchecked" }>,
  ctx: StepContext,
): string {
  const profile = ctx.world.fediverse.signs
    ? `refused my signed request for your profile (${v.activitypub.replace(/^.*\((.*)\)$/, "$1")})`
    : "shows your profile only to requests signed by a server";
  return `${v.host} ${profile}, and its API only to signed-in apps, so I can't see the move from here`;
}

/** Why the alias can't be read from here, and why going on is still safe. */
export function uncheckedAlias(s: Pick<Moving, "target" | "oldHandle">, ctx: StepContext): string {
  const host = newHost(s.target);
  const why = ctx.world.fediverse.signs
    ? `${host} refused my signed request for @${s.target.handle}`
    : `${host} shows its accounts only to requests signed by a server, which I can only make when I run with a public address (PUBLIC_URL)`;
  return `I couldn't check the alias: ${why}. The move page checks it too: if it says "not an alias of this account", the alias for @${s.oldHandle} is missing or not yet seen.`;
}
