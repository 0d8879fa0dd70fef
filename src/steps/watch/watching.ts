/**
 * Step 12: the followers move; the watch job does the looking. /status shows
 * how far it is from what the job last saw: moved N of M, the rate, an ETA, and
 * where those still on the old account are.
 */
import { say } from "../../chat/conversation.js";
import { b, n } from "../../chat/text.js";
import type { StateOf } from "../../model/state.js";
import type { WatchData } from "../../model/watch-data.js";
import type { Step, StepContext } from "../step.js";

const BAR = 10;

export async function watchStatus(state: StateOf<"watching">, ctx: StepContext): Promise<string> {
  const data = (await ctx.jobData<WatchData>(state.watchJobId)) ?? undefined;
  if (!data?.last || data.initial === undefined)
    return "I'm watching your followers move; the first count comes within minutes.";
  const { initial, last, first } = data;
  const moved = Math.max(0, initial - last.count);
  const pct = initial > 0 ? Math.round((moved / initial) * 100) : 100;
  const filled = Math.round((pct / 100) * BAR);
  const lines = [
    `Moved ${n(moved)} of ${n(initial)} followers ${"▓".repeat(filled)}${"░".repeat(BAR - filled)} ${pct}%`,
  ];
  if (first && last.at > first.at && first.count > last.count) {
    const perHour = ((first.count - last.count) / (last.at - first.at)) * 3_600_000;
    const hours = last.count / perHour;
    lines.push(
      `about ${n(Math.round(perHour))} an hour${Number.isFinite(hours) ? ` · about ${hours < 1 ? "an hour" : `${Math.ceil(hours)} h`} left at that pace` : ""}`,
    );
  }
  if (data.hidden) lines.push("Your old server hides the followers list, so I only see the count.");
  else if (data.remaining && data.remaining.total > 0) {
    const top = data.remaining.servers
      .slice(0, 5)
      .map(([h, c]) => `${h} (${n(c)})`)
      .join(", ");
    lines.push(`Still on the old account: ${n(data.remaining.total)} — most on ${top}.`);
  }
  return lines.join("\n");
}

export const watching: Step<"watching"> = {
  name: "watching",
  canGoBack: false,
  enter: (state) => [
    say([
      "Your followers are on their way: their servers are asked to follow ",
      b(`@${state.target.handle}`),
      ". This usually takes hours, sometimes a day or two. I'll message you when it's over; /status any time.",
    ]),
  ],
  status: async (state, ctx) => [say([await watchStatus(state, ctx)])],
  async handle(state, input, ctx) {
    if (input.kind === "choice" && input.id === "quiet") {
      return {
        state: { ...state, quiet: true },
        replies: [say(["Fine: no more updates until it's over."])],
      };
    }
    return { state, replies: [say([await watchStatus(state, ctx)])] };
  },
};
