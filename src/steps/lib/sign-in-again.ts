/**
 * The server no longer knows the bot's app (Mastodon 4.2.0–4.2.8 delete unused
 * apps after a day; an admin can delete one too): the code the user brought was
 * issued to that app and can't be traded. A new sign-in is begun, which
 * registers a new app, and the user taps "Sign in" once more.
 */
import { type Reply, say } from "../../chat/conversation.js";
import type { Purpose } from "../../clients/sign-in.js";
import type { Instance, PendingSignIn } from "../../model/state.js";
import type { StepContext } from "../step.js";
import { explainRemote } from "./explain.js";

export async function signInAgain(
  instance: Instance,
  purpose: Purpose,
  ctx: StepContext,
): Promise<{ ok: true; signIn: PendingSignIn; reply: Reply } | { ok: false; reason: string }> {
  const host = instance.host;
  const gone = `${host} had forgotten my sign-in app (some Mastodon versions delete unused ones after a day), so that code can't be used`;
  try {
    const begun = await ctx.world.signIn.begin(ctx.user, instance, purpose);
    return {
      ok: true,
      signIn: { ...begun, startedAt: ctx.now() },
      reply: say([`${gone}. I've set up a new one: tap “Sign in” again.`], {
        links: [{ label: `Sign in to ${host}`, url: begun.url }],
      }),
    };
  } catch (err) {
    return {
      ok: false,
      reason: `${gone}, and I couldn't set up a new one: ${explainRemote(err, host)}`,
    };
  }
}
