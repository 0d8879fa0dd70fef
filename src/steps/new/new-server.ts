/** Another Mastodon-API server — which one, then sign in with follow scopes. */
import { say } from "../../chat/conversation.js";
import { code } from "../../chat/text.js";
import { askServer } from "../lib/ask-server.js";
import { explainRemote } from "../lib/explain.js";
import { journeyOf } from "../lib/journey.js";
import { type Step, stay } from "../step.js";

const ask = say(["Which server is your new account on? (e.g. ", code("social.example"), ")"]);

export const newServer: Step<"new-server"> = {
  name: "new-server",
  enter: () => [ask],
  async handle(state, input, ctx) {
    const asked = await askServer(input, ctx, "social.example");
    if (!asked.ok) return stay(state, asked.reply);
    const instance = asked.instance;
    try {
      const begun = await ctx.world.signIn.begin(ctx.user, instance, "new");
      return {
        state: {
          step: "new-sign-in",
          ...journeyOf(state),
          instance,
          signIn: { ...begun, startedAt: ctx.now() },
        },
        replies: [],
      };
    } catch (err) {
      return stay(
        state,
        say([
          `${instance.host} wouldn't let me offer a sign-in: ${explainRemote(err, instance.host)}`,
        ]),
      );
    }
  },
};
