/**
 * What connecting micro.blog and connecting another server have in common: look
 * at what the import will meet, and show the preview.
 */
import { say } from "../../chat/conversation.js";
import type { StateOf, Target } from "../../model/state.js";
import type { Outcome, StepContext } from "../step.js";
import { explainRemote } from "./explain.js";
import { journeyOf } from "./journey.js";
import { newHost } from "./moving.js";
import { preview } from "./preview.js";

export async function connected(
  state: StateOf<"new-choose">,
  target: Target,
  token: string,
  ctx: StepContext,
): Promise<Outcome> {
  const j = journeyOf(state);
  const snapshot = await ctx.snapshots.get(ctx.user);
  const rows = snapshot?.follows ?? [];
  const hello = say([`Connected: your new account is @${target.handle}.`]);
  try {
    const account = ctx.world.newAccount(target, token);
    const p = await preview(rows, account, target, (hosts) => ctx.world.serversAnswering(hosts));
    return { state: { step: "import-preview", ...j, target, preview: p }, replies: [hello] };
  } catch (err) {
    const host = newHost(target);
    return {
      state: {
        step: "import-preview",
        ...j,
        target,
        preview: {
          toFollow: rows.length,
          already: 0,
          unreachable: 0,
          unreachableServers: [],
          dailyLimit: null,
        },
      },
      replies: [
        hello,
        say([
          `I couldn't check which accounts you already follow: ${explainRemote(err, host)} I'll skip those as I go.`,
        ]),
      ],
    };
  }
}
