/** Which server the old account lives on. */
import { say } from "../../chat/conversation.js";
import { code } from "../../chat/text.js";
import { log } from "../../log.js";
import { askServer } from "../lib/ask-server.js";
import { type Step, stay } from "../step.js";

const ask = say(["Which Mastodon server is your account on? (e.g. ", code("mastodon.social"), ")"]);

export const oldServer: Step<"old-server"> = {
  name: "old-server",
  enter: () => [ask],
  async handle(state, input, ctx) {
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
  },
};
