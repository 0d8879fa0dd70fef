/** Cross-posting (micro.blog): switch off cross-posting to Mastodon, and why. */
import { say } from "../../chat/conversation.js";
import { b } from "../../chat/text.js";
import { movingOf } from "../lib/moving.js";
import { type Step, stay } from "../step.js";

const ask = say(
  [
    "Switch off cross-posting to Mastodon: on micro.blog, open ",
    b("Account → Edit Sources & Cross-posting"),
    " and remove your Mastodon account there. After the move your old account is locked and your micro.blog posts reach your followers directly; cross-posting would fail, or post everything twice.",
  ],
  {
    choices: [
      { id: "done", label: "Done" },
      { id: "none", label: "I never cross-posted" },
    ],
  },
);

export const crosspost: Step<"crosspost"> = {
  name: "crosspost",
  enter: () => [ask],
  async handle(state, input) {
    if (input.kind === "choice" && (input.id === "done" || input.id === "none")) {
      return { state: { step: "preflight", ...movingOf(state) }, replies: [] };
    }
    return stay(state, ask);
  },
};
