/** Step 5, while the import job runs: how far it is; /cancel stops it. */
import { say } from "../../chat/conversation.js";
import { n } from "../../chat/text.js";
import type { Step, StepContext } from "../step.js";

async function line(jobId: string, ctx: StepContext): Promise<string> {
  const p = await ctx.jobProgress(jobId);
  if (!p || p.done === 0) return "I'm following your accounts on the new account.";
  return `Following: ${n(p.done)} of ${n(p.total ?? p.done)} accounts gone through so far.`;
}

export const importing: Step<"importing"> = {
  name: "importing",
  canGoBack: false,
  transient: true,
  enter: () => [],
  status: async (state, ctx) => [say([await line(state.jobId, ctx)])],
  async handle(state, _input, ctx) {
    return {
      state,
      replies: [
        say([await line(state.jobId, ctx), " I'll tell you when it's done; /cancel stops it."]),
      ],
    };
  },
};
