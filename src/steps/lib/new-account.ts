/**
 * Where the journey goes once the follows are saved. Most people move to micro.blog, so
 * its token is asked for at once, another server one tap away — where this chat can take
 * the token (pasted, or on the bot's one-time page). Elsewhere, and on a bot without
 * micro.blog, the person chooses first.
 */
import type { State, StateOf } from "../../model/state.js";
import type { StepContext } from "../step.js";
import { journeyOf } from "./journey.js";

export function toNewAccount(
  s: Pick<StateOf<"new-choose">, "source" | "follows" | "snapshotAt">,
  ctx: StepContext,
): State {
  const j = journeyOf(s);
  const takesToken = ctx.channel.secretsInChat || ctx.channel.secretForm !== undefined;
  return ctx.world.microblog && takesToken
    ? { step: "new-microblog", ...j }
    : { step: "new-choose", ...j };
}
