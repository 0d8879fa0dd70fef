/**
 * The end: the finished message went out. What's left is the wrap-up — revoke
 * the bot's access, forget now, or keep the data past the 30 days.
 */
import { say } from "../../chat/conversation.js";
import { n } from "../../chat/text.js";
import type { StateOf } from "../../model/state.js";
import type { Step } from "../step.js";

function summary(state: StateOf<"finished">) {
  const r = state.result;
  const when = state.forgetAt
    ? `I'll forget everything on ${new Date(state.forgetAt).toUTCString().slice(0, 16)}.`
    : "You asked me to keep your data; /forget deletes it.";
  const line = r.counted
    ? r.from === "new"
      ? `Your move is finished: your new account gained ${n(r.moved)} followers since the move (counted there; your old server never let me count).`
      : r.initial > 0
        ? `Your move is finished: ${n(r.moved)} of ${n(r.initial)} followers moved.`
        : "Your move is finished: your old account had no followers to move."
    : "Your move is finished; your old server never let me count its followers.";
  return say([`${line} ${when}`], {
    choices: [
      ...(state.revoked ? [] : [{ id: "revoke", label: "Revoke my access" }]),
      { id: "/forget", label: "Forget now" },
      ...(state.forgetAt ? [{ id: "keep", label: "Keep my data" }] : []),
    ],
  });
}

export const finished: Step<"finished"> = {
  name: "finished",
  canGoBack: false,
  // Arriving here, the watch job's finished message says it all; /status and /start show the summary.
  enter: () => [],
  status: (state) => [summary(state)],
  async handle(state, input, ctx) {
    if (input.kind === "job") {
      // The forget-later job: the 30 days are up, unless the user chose to keep their data.
      const due = state.forgetAt !== null && state.forgetAt <= ctx.now();
      return due ? { state, replies: [], forget: true } : { state, replies: [] };
    }
    if (input.kind !== "choice") return { state, replies: [summary(state)] };
    switch (input.id) {
      case "revoke": {
        const notes = await ctx.world.revokeAll(state, ctx.sealer);
        return { state: { ...state, revoked: true }, replies: [say([notes])] };
      }
      case "keep":
        return {
          state: { ...state, forgetAt: null },
          replies: [say(["Kept. Nothing will be deleted until you say /forget."])],
        };
      default:
        return { state, replies: [summary(state)] };
    }
  },
};
