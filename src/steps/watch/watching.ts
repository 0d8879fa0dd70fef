/**
 * The followers move; the watch job does the looking. /status shows how far it
 * is from what the job last saw: moved N of M, the rate, an ETA, and where
 * those still on the old account are. The job's reports become the 50% and 90%
 * messages (unless the user asked for quiet) and the one finished message.
 */
import { randomUUID } from "node:crypto";
import { say } from "../../chat/conversation.js";
import { b, n } from "../../chat/text.js";
import { splitHandle } from "../../model/handle.js";
import type { JobInput } from "../../model/jobs.js";
import type { StateOf } from "../../model/state.js";
import { movingOf } from "../lib/moving.js";
import { bar } from "../lib/progress.js";
import { finishedReplies } from "../lib/transfer-report.js";
import type { Outcome, Step, StepContext } from "../step.js";

export async function watchStatus(state: StateOf<"watching">, ctx: StepContext): Promise<string> {
  const data = await ctx.watched(state.watchJobId);
  if (!data) return "I'm watching your followers move; the first count comes within minutes.";
  if ("from" in data) {
    const host = splitHandle(state.oldHandle).host;
    const cant = `I can't count your followers on ${host}, but they are moving all the same.`;
    if (data.from === "uncounted")
      return `${cant} I'll keep trying, and tell you when the watch ends.`;
    const gained = Math.max(0, data.last.count - data.atStart);
    return (
      `${cant} Counting from your new account instead: @${state.target.handle} has gained ` +
      `${n(gained)} since the watch began (${n(data.atStart)} → ${n(data.last.count)}).`
    );
  }
  const { initial, last, first } = data;
  const moved = Math.max(0, initial - last.count);
  if (initial === 0) return "Your old account had no followers to move.";
  const pct = Math.round((moved / initial) * 100);
  const lines = [`Moved ${n(moved)} of ${n(initial)} followers ${bar(pct, 100)} ${pct}%`];
  if (last.at > first.at && first.count > last.count) {
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
    if (input.kind === "job" && input.job === "watch") return reported(state, input, ctx);
    if (input.kind === "choice" && input.id === "finish-uncounted") {
      return finishUncounted(state, ctx);
    }
    if (input.kind === "choice" && input.id === "count-new") {
      return {
        state,
        replies: [
          say([
            "Counting from ",
            b(`@${state.target.handle}`),
            ": I'll tell you how many followers it gained when the count stops changing; /status any time.",
          ]),
        ],
      };
    }
    if (input.kind === "choice" && input.id === "keep-watching") {
      return {
        state,
        replies: [say(["I'll keep trying, and tell you when it's over; /status any time."])],
      };
    }
    if (input.kind === "choice" && input.id === "quiet") {
      return {
        state: { ...state, quiet: true },
        replies: [say(["Fine: no more updates until it's over."])],
      };
    }
    return { state, replies: [say([await watchStatus(state, ctx)])] };
  },
};

/** Why nothing on the old server can be counted, in the user's terms, and what can be done. */
function unreadable(
  state: StateOf<"watching">,
  input: Extract<JobInput, { job: "watch"; event: "unreadable" }>,
): Outcome {
  const host = splitHandle(state.oldHandle).host;
  const profile = input.signs
    ? `and it refused even my signed request for your profile (${input.activitypub.replace(/^.*\((.*)\)$/, "$1")})`
    : "and it shows your profile only to requests signed by a server, which I can only make when I run with a public address (PUBLIC_URL)";
  const cant = `I can't count your followers on ${host}: its API answers only signed-in apps, ${profile}. `;
  if (input.newSide) {
    return {
      state,
      replies: [
        say(
          [
            cant,
            "Your followers are moving all the same. I can count them from your new account instead: how many followers ",
            b(`@${state.target.handle}`),
            " gains from the move on. Or I can finish now without a count.",
          ],
          {
            choices: [
              { id: "count-new", label: "Count from the new account" },
              { id: "finish-uncounted", label: "Finish without a count" },
            ],
          },
        ),
      ],
    };
  }
  // micro.blog has no follower API and no follower count by design (shared/reference/apis.md;
  // https://manton.org/2023/01/24/ivory-and-microblog.html): nothing to count there either.
  const newSide =
    state.target.kind === "microblog"
      ? "micro.blog's API doesn't show how many follow you there, so I can't count from your new account either. "
      : "";
  return {
    state,
    replies: [
      say(
        [
          cant,
          newSide,
          "Your followers are moving all the same; only my count is missing. I'll keep trying in case that changes and tell you when the watch ends. ",
          "Or I can finish now without a count: then the follower count on your new account is the one to watch.",
        ],
        {
          choices: [
            { id: "keep-watching", label: "Keep trying" },
            { id: "finish-uncounted", label: "Finish without a count" },
          ],
        },
      ),
    ],
  };
}

async function finishUncounted(state: StateOf<"watching">, ctx: StepContext): Promise<Outcome> {
  const initial = (await ctx.snapshots.get(ctx.user))?.followers.count ?? 0;
  const result = {
    initial,
    moved: 0,
    stayed: 0,
    counted: false,
    ended: "asked" as const,
    at: ctx.now(),
  };
  return reported(
    state,
    {
      kind: "job",
      job: "watch",
      id: state.watchJobId,
      event: "finished",
      result,
      stayed: null,
      servers: [],
    },
    ctx,
  );
}

function reported(
  state: StateOf<"watching">,
  input: Extract<JobInput, { job: "watch" }>,
  ctx: StepContext,
): Outcome {
  if (input.event === "unreadable") return unreadable(state, input);
  if (input.event === "milestone") {
    if (state.quiet) return { state, replies: [] };
    const text =
      input.percent === 50
        ? "Half of your followers have moved"
        : `${input.percent}% of your followers have moved`;
    return {
      state,
      replies: [
        say([`${text}: ${n(input.moved)} of ${n(input.initial)}.`], {
          choices: [{ id: "quiet", label: "No more updates until it's over" }],
        }),
      ],
    };
  }
  const forgetAt = input.result.at + ctx.forgetAfterMs;
  const forgetJobId = randomUUID();
  return {
    state: {
      step: "finished",
      ...movingOf(state),
      movedAt: state.movedAt,
      result: input.result,
      forgetAt,
      forgetJobId,
      revoked: false,
    },
    replies: finishedReplies(input, state),
    jobs: [{ kind: "forget-later", id: forgetJobId, data: { at: forgetAt } }],
  };
}
