/** Where the account moves to — micro.blog, or another Mastodon-compatible server. */
import { say } from "../../chat/conversation.js";
import { b, n } from "../../chat/text.js";
import type { StateOf } from "../../model/state.js";
import { journeyOf, oldHandle } from "../lib/journey.js";
import { type Step, stay } from "../step.js";

const CHOICES = [
  { id: "microblog", label: "micro.blog" },
  { id: "server", label: "Another server" },
];

function ask(state: StateOf<"new-choose">) {
  const from = oldHandle(state);
  return say(
    [
      `Your ${n(state.follows)} follows`,
      ...(from ? [" from ", b(`@${from}`)] : []),
      " are saved — keep the files above.\n\n",
      "Next, your new account. Where are you moving to? Another server means any that speaks Mastodon's API: Mastodon, GoToSocial, Akkoma and the like.",
    ],
    { choices: CHOICES },
  );
}

export const newChoose: Step<"new-choose"> = {
  name: "new-choose",
  enter: (state) => [ask(state)],
  async handle(state, input, ctx) {
    const j = journeyOf(state);
    const choice =
      input.kind === "choice"
        ? input.id
        : input.kind === "text"
          ? input.text.trim().toLowerCase()
          : "";
    if (choice === "microblog" || choice === "micro.blog") {
      if (!ctx.world.microblog)
        return stay(state, say(["micro.blog isn't set up on this bot; choose another server."]));
      return { state: { step: "new-microblog", ...j }, replies: [] };
    }
    if (choice === "server" || choice === "another server")
      return { state: { step: "new-server", ...j }, replies: [] };
    return stay(state, ask(state));
  },
};
