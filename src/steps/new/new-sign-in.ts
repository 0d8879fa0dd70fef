/**
 * Signing in to the new server: read:accounts read:follows read:search
 * write:follows, nothing more. Like the old account's sign-in, by a pasted code
 * or by the callback page.
 */
import { say } from "../../chat/conversation.js";
import { b } from "../../chat/text.js";
import { AppGoneError } from "../../clients/sign-in.js";
import { sameHandle } from "../../model/handle.js";
import type { StateOf } from "../../model/state.js";
import { RejectedError } from "../../net/errors.js";
import { explainRemote } from "../lib/explain.js";
import { journeyOf } from "../lib/journey.js";
import { pastedCode, signInReturned } from "../lib/pasted-code.js";
import { signInAgain } from "../lib/sign-in-again.js";
import { connected } from "../lib/target-connected.js";
import type { Outcome, Step, StepContext } from "../step.js";

function prompt(state: StateOf<"new-sign-in">) {
  const host = state.instance.host;
  const after =
    state.signIn.redirect === "oob"
      ? `, then paste the code ${host} shows you here.`
      : "; I'll carry on once you approve.";
  return say(["Tap to let me follow accounts for you on ", b(host), ` — nothing else`, after], {
    links: [{ label: `Sign in to ${host}`, url: state.signIn.url }],
  });
}

async function finishNewSignIn(
  state: StateOf<"new-sign-in">,
  code: string,
  ctx: StepContext,
): Promise<Outcome> {
  const { instance, signIn } = state;
  let token: string;
  try {
    token = (await ctx.world.signIn.finish(instance.origin, signIn.verifier, code, "new")).token;
  } catch (err) {
    if (err instanceof AppGoneError) {
      const again = await signInAgain(instance, "new", ctx);
      return again.ok
        ? { state: { ...state, signIn: again.signIn }, ack: "failed", replies: [again.reply] }
        : { state, ack: "failed", replies: [say([again.reason])] };
    }
    const reason =
      err instanceof RejectedError && err.status === 400
        ? `${instance.host} didn't accept that code: it was already used, has expired, or belongs to another sign-in. Tap "Sign in" for a new one.`
        : `${explainRemote(err, instance.host)} Tap "Sign in" to try again.`;
    return {
      state,
      ack: "failed",
      replies: [
        say([reason], { links: [{ label: `Sign in to ${instance.host}`, url: signIn.url }] }),
      ],
    };
  }
  let me: Awaited<ReturnType<ReturnType<StepContext["world"]["mastodon"]>["verifyCredentials"]>>;
  try {
    me = await ctx.world.mastodon(instance.origin, token).verifyCredentials();
  } catch (err) {
    return {
      state,
      ack: "failed",
      replies: [say([`${explainRemote(err, instance.host)} Tap "Sign in" to try again.`])],
    };
  }
  const handle = `${me.username}@${instance.domain}`;
  const old = state.source.kind === "account" ? state.source.old : undefined;
  if (old && sameHandle(old.handle, handle)) {
    return {
      state,
      ack: "failed",
      replies: [
        say([
          `That's @${handle}, the account you're moving from. Sign in with the new account instead.`,
        ]),
      ],
    };
  }
  const target = {
    kind: "mastodon" as const,
    instance,
    id: me.id,
    handle,
    token: ctx.sealer.seal(token),
  };
  const outcome = await connected({ step: "new-choose", ...journeyOf(state) }, target, token, ctx);
  return { ...outcome, ack: "done" };
}

export const newSignIn: Step<"new-sign-in"> = {
  name: "new-sign-in",
  takesSecret: () => true,
  enter: (state) => [prompt(state)],
  async handle(state, input, ctx) {
    if (input.kind === "signed-in")
      return signInReturned(state, input, (code) => finishNewSignIn(state, code, ctx));
    if (input.kind !== "text") return { state, replies: [prompt(state)] };
    return pastedCode(state, input.text, state.instance.host, prompt(state), (code) =>
      finishNewSignIn(state, code, ctx),
    );
  },
};
