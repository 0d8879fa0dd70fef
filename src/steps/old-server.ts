/** Step 2a: which server the old account lives on. */
import { say } from "../bot/conversation.js";
import { code } from "../bot/text.js";
import { parseInstance } from "../clients/instance.js";
import { explainRemote } from "./explain.js";
import { type Step, stay } from "./step.js";

const ask = say(["Which Mastodon server is your account on? (e.g. ", code("mastodon.social"), ")"]);

export const oldServer: Step<"old-server"> = {
  name: "old-server",
  enter: () => [ask],
  async handle(state, input, ctx) {
    if (input.kind !== "text") {
      return stay(
        state,
        say(["I need the name of your server as text, like ", code("mastodon.social"), "."]),
      );
    }
    const parsed = parseInstance(input.text, ctx.world.allowPrivateNetwork);
    if (!parsed.ok) {
      return stay(
        state,
        say([parsed.reason, " Send just the server's name, like ", code("mastodon.social"), "."]),
      );
    }
    try {
      const info = await ctx.world.probeMastodon(parsed.origin);
      return {
        state: {
          step: "old-token",
          instance: { origin: parsed.origin, host: parsed.host, domain: info.domain },
        },
        replies: [],
      };
    } catch (err) {
      return stay(
        state,
        say([explainRemote(err, parsed.host), " Send the server's name again when ready."]),
      );
    }
  },
};
