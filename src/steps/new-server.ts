/** Step 4b: another Mastodon-API server — which one, then sign in with follow scopes. */
import { say } from "../bot/conversation.js";
import { code } from "../bot/text.js";
import { parseInstance } from "../clients/instance.js";
import { explainRemote } from "./explain.js";
import { journeyOf } from "./journey.js";
import type { Instance } from "./state.js";
import { type Step, stay } from "./step.js";

const ask = say(["Which server is your new account on? (e.g. ", code("social.example"), ")"]);

export const newServer: Step<"new-server"> = {
  name: "new-server",
  enter: () => [ask],
  async handle(state, input, ctx) {
    if (input.kind !== "text")
      return stay(
        state,
        say(["I need the server's name as text, like ", code("social.example"), "."]),
      );
    const parsed = parseInstance(input.text, ctx.world.allowPrivateNetwork);
    if (!parsed.ok) return stay(state, say([parsed.reason, " Send just the server's name."]));
    let instance: Instance;
    try {
      const info = await ctx.world.probeMastodon(parsed.origin);
      instance = {
        origin: parsed.origin,
        host: parsed.host,
        domain: info.domain,
        version: info.version,
      };
    } catch (err) {
      return stay(
        state,
        say([explainRemote(err, parsed.host), " Send the server's name again when ready."]),
      );
    }
    try {
      const begun = await ctx.world.signIn.begin(ctx.user, instance, "new");
      return {
        state: {
          step: "new-connect",
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
