/**
 * Step 4, connecting the new account. Until that part is built, the user keeps
 * the exported file and their place; nothing here pretends to do more.
 */
import { say } from "../bot/conversation.js";
import { b, n } from "../bot/text.js";
import type { Step } from "./step.js";

export const connectNew: Step<"connect-new"> = {
  name: "connect-new",
  enter: (state) => [
    say([
      `Your ${n(state.follows)} follows`,
      ...(state.source.kind === "account" ? [" from ", b(`@${state.source.old.handle}`)] : []),
      " are saved — keep the files above.\n\n",
      "Next comes your new account (micro.blog or another server). That part of fedimove isn't ready yet; I'll keep your place until it is. /status shows where we are, /forget deletes what I kept.",
    ]),
  ],
  async handle(state) {
    return {
      state,
      replies: [
        say([
          "Connecting the new account isn't ready yet. Your follows are saved in following_accounts.csv; /forget deletes what I kept.",
        ]),
      ],
    };
  },
};
