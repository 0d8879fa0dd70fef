/**
 * Sign in to the old account by OAuth, read scopes only. Without a public
 * address the user taps the link and pastes the code Mastodon shows; with one,
 * the bot's callback page finishes by itself. A pasted token and an uploaded
 * following_accounts.csv are the alternatives.
 */
import { say } from "../../chat/conversation.js";
import { b } from "../../chat/text.js";
import { AppGoneError } from "../../clients/sign-in.js";
import type { StateOf } from "../../model/state.js";
import { RejectedError } from "../../net/errors.js";
import { beginSnapshot } from "../lib/begin-snapshot.js";
import { explainRemote } from "../lib/explain.js";
import { pastedCode, signInReturned } from "../lib/pasted-code.js";
import { signInAgain } from "../lib/sign-in-again.js";
import type { Outcome, Step, StepContext } from "../step.js";
import { oldCsv } from "./old-csv.js";

const TOKEN = { id: "token", label: "Paste a token instead" };
const CSV = { id: "csv", label: "Upload a file instead" };

/** A pasted token only where the chat may carry one. */
const alternatives = (ctx: StepContext) => (ctx.channel.secretsInChat ? [TOKEN, CSV] : [CSV]);

function prompt(state: StateOf<"old-sign-in">, ctx: StepContext) {
  const host = state.instance.host;
  if (!state.signIn) {
    return say(
      [
        ctx.channel.secretsInChat
          ? `${host} doesn't let me offer a sign-in link. Paste an access token instead, or upload your follows file.`
          : `${host} doesn't let me offer a sign-in link, and a token can't be sent here. Send me your follows file instead.`,
      ],
      { choices: alternatives(ctx) },
    );
  }
  const after =
    state.signIn.redirect === "oob"
      ? `, then paste the code ${host} shows you here.`
      : `; I'll carry on by myself once you approve.`;
  return say(
    [
      `Tap to let me read your account — `,
      b("read-only"),
      `, and you can revoke it any time`,
      after,
    ],
    { links: [{ label: `Sign in to ${host}`, url: state.signIn.url }], choices: alternatives(ctx) },
  );
}

/** Trading a code for a token, from a pasted code or from the callback page. */
async function finishSignIn(
  state: StateOf<"old-sign-in">,
  code: string,
  ctx: StepContext,
): Promise<Outcome> {
  const host = state.instance.host;
  if (!state.signIn) return { state, ack: "failed", replies: [prompt(state, ctx)] };
  let token: string;
  try {
    token = (await ctx.world.signIn.finish(state.instance.origin, state.signIn.verifier, code))
      .token;
  } catch (err) {
    if (err instanceof AppGoneError) {
      const again = await signInAgain(state.instance, "old", ctx);
      return again.ok
        ? { state: { ...state, signIn: again.signIn }, ack: "failed", replies: [again.reply] }
        : {
            state: { ...state, signIn: null },
            ack: "failed",
            replies: [say([again.reason]), prompt({ ...state, signIn: null }, ctx)],
          };
    }
    const reason =
      err instanceof RejectedError && err.status === 400
        ? `${host} didn't accept that code: it was already used, has expired (codes last 10 minutes), or belongs to another sign-in. Tap "Sign in" for a new one.`
        : `${explainRemote(err, host)} Tap "Sign in" to try again.`;
    return {
      state,
      ack: "failed",
      replies: [say([reason], { links: [{ label: `Sign in to ${host}`, url: state.signIn.url }] })],
    };
  }
  const begun = await beginSnapshot(state.instance, token, "oauth", ctx);
  return begun.ok
    ? { ...begun.outcome, ack: "done" }
    : { state, ack: "failed", replies: [say([begun.reason])] };
}

export const oldSignIn: Step<"old-sign-in"> = {
  name: "old-sign-in",
  takesSecret: (state) => state.signIn !== null,
  enter: (state, ctx) => [prompt(state, ctx)],
  async handle(state, input, ctx) {
    if (input.kind === "signed-in")
      return signInReturned(state, input, (code) => finishSignIn(state, code, ctx));
    if (input.kind === "choice" && input.id === "token" && ctx.channel.secretsInChat)
      return { state: { step: "old-token", instance: state.instance }, replies: [] };
    if (input.kind === "choice" && input.id === "csv")
      return { state: { step: "old-csv", instance: state.instance }, replies: [] };
    if (input.kind === "file") {
      // The follows file, sent without pressing "Upload a file instead": read it as that step
      // would. A file that isn't one gets its reason and changes nothing (the sign-in stays).
      const read = await oldCsv.handle({ step: "old-csv", instance: state.instance }, input, ctx);
      return read.state.step === "old-csv" ? { state, replies: read.replies } : read;
    }
    if (input.kind !== "text" || !state.signIn) return { state, replies: [prompt(state, ctx)] };
    return pastedCode(state, input.text, state.instance.host, prompt(state, ctx), (code) =>
      finishSignIn(state, code, ctx),
    );
  },
};
