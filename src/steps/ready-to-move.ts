/** Step 7 onwards (alias, cross-posting, the Move): not built yet; the user keeps their place. */
import { say } from "../bot/conversation.js";
import type { Step } from "./step.js";

export const readyToMove: Step<"ready-to-move"> = {
  name: "ready-to-move",
  enter: (state) => [
    say([
      `Next: make @${state.target.handle} name your old account as an alias, then move. That part of fedimove is being built; I'll keep your place until it's ready. /status shows where we are.`,
    ]),
  ],
  async handle(state) {
    return {
      state,
      replies: [
        say([
          "The alias and the move aren't ready yet; I'll keep your place. /forget deletes what I kept.",
        ]),
      ],
    };
  },
};
