/** Step 2a: which server the old account lives on. */
import { say } from "../bot/conversation.js";
import { code } from "../bot/text.js";
import { parseInstance } from "../clients/instance.js";
import { log } from "../log.js";
import { explainRemote } from "./explain.js";
import type { Instance } from "./state.js";
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
      const begun = await ctx.world.signIn.begin(ctx.user, instance);
      return {
        state: { step: "old-connect", instance, signIn: { ...begun, startedAt: ctx.now() } },
        replies: [],
      };
    } catch (err) {
      // No sign-in link (the server refused to register the app): a token or a file still work.
      log.warn("oauth: could not begin", { host: instance.host, err });
      return { state: { step: "old-connect", instance, signIn: null }, replies: [] };
    }
  },
};
