/** The end of the road: the old account's Move points to some other account than ours. */
import { say } from "../../chat/conversation.js";
import type { StateOf } from "../../model/state.js";
import type { Step } from "../step.js";

const stopped = (state: StateOf<"moved-elsewhere">) =>
  say([
    `I've stopped here: @${state.oldHandle} now points to ${state.to}, not to @${state.target.handle}. If that was a mistake, the old server's move page lets you redirect it again after its 30-day wait. /forget deletes what I kept.`,
  ]);

export const movedElsewhere: Step<"moved-elsewhere"> = {
  name: "moved-elsewhere",
  canGoBack: false,
  enter: (state) => [stopped(state)],
  async handle(state) {
    return { state, replies: [stopped(state)] };
  },
};
