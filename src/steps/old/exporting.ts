/** Step 3, while the export job runs: say how far it is; everything else waits. */
import { say } from "../../chat/conversation.js";
import { n } from "../../chat/text.js";
import type { Step } from "../step.js";

export const exporting: Step<"exporting"> = {
  name: "exporting",
  canGoBack: false,
  transient: true,
  enter: () => [],
  status: async (state, ctx) => [say([progressLine(await ctx.jobProgress(state.jobId))])],
  async handle(state, _input, ctx) {
    return {
      state,
      replies: [
        say([
          progressLine(await ctx.jobProgress(state.jobId)),
          " I'll send the file here when it's done; /cancel stops it.",
        ]),
      ],
    };
  },
};

function progressLine(p: { done: number; total?: number } | undefined): string {
  if (!p || p.done === 0) {
    return "I'm saving your account: follows first, then followers, lists, blocks, mutes and bookmarks.";
  }
  return `Saving your account: ${n(p.done)} follows and followers so far.`;
}
