/** Which server the old account lives on. */
import { say } from "../../chat/conversation.js";
import { code, type Text } from "../../chat/text.js";
import { log } from "../../log.js";
import type { State } from "../../model/state.js";
import { askServer } from "../lib/ask-server.js";
import { type Outcome, type Step, type StepContext, type StepInput, stay } from "../step.js";

/** The first question of the journey; the welcome asks it too. */
export const SERVER_QUESTION: Text = [
  "Which Mastodon server is your account on? (e.g. ",
  code("mastodon.social"),
  ")",
];

const ask = say(SERVER_QUESTION);

/** The server the user named, asked and ready to sign in to; or why not, staying at `state`. */
export async function signInTo(state: State, input: StepInput, ctx: StepContext): Promise<Outcome> {
  const asked = await askServer(input, ctx, "mastodon.social");
  if (!asked.ok) return stay(state, asked.reply);
  const instance = asked.instance;
  try {
    const begun = await ctx.world.signIn.begin(ctx.user, instance);
    return {
      state: { step: "old-sign-in", instance, signIn: { ...begun, startedAt: ctx.now() } },
      replies: [],
    };
  } catch (err) {
    // No sign-in link (the server refused to register the app): a token or a file still work.
    log.warn("oauth: could not begin", { host: instance.host, err });
    return { state: { step: "old-sign-in", instance, signIn: null }, replies: [] };
  }
}

export const oldServer: Step<"old-server"> = {
  name: "old-server",
  enter: () => [ask],
  handle: (state, input, ctx) => signInTo(state, input, ctx),
};
