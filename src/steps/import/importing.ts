/**
 * Following everyone on the new account, while the import job runs: progress
 * with a bar and an ETA in one edited message, waits announced with their time,
 * then the report and not-followed.csv, and on to the alias when the person chose
 * "Follow them, then move" (else the question whether to try the account first). When the server stops the import, back
 * to the preview with what is left and why; what's done stays done. When
 * micro.blog no longer takes the app token, nothing else can help: back to
 * pasting a token, and the preview after it counts what's left.
 */
import { type Reply, say } from "../../chat/conversation.js";
import { count, n, type Text } from "../../chat/text.js";
import { notFollowedCsv } from "../../formats/report-csv.js";
import type { JobInput } from "../../model/jobs.js";
import type { ImportReport, StateOf } from "../../model/state.js";
import { explainRemote } from "../lib/explain.js";
import { journeyOf } from "../lib/journey.js";
import { newHost, toAlias } from "../lib/moving.js";
import { bar, eta, progressReply, waitingText } from "../lib/progress.js";
import type { Outcome, Step, StepContext } from "../step.js";
import { askNewToken, tokenGone } from "./new-token.js";

async function line(jobId: string, ctx: StepContext): Promise<string> {
  const p = await ctx.counted(jobId);
  if (!p || p.done === 0) return "I'm following your accounts on the new account.";
  return `Following: ${n(p.done)} of ${n(p.total ?? p.done)} accounts gone through so far.`;
}

export const importing: Step<"importing"> = {
  name: "importing",
  canGoBack: false,
  transient: true,
  enter: () => [],
  status: async (state, ctx) => [say([await line(state.jobId, ctx)])],
  async handle(state, input, ctx) {
    if (input.kind === "job" && input.job === "import-follows") return reported(state, input);
    return {
      state,
      replies: [
        say([await line(state.jobId, ctx), " I'll tell you when it's done; /cancel stops it."]),
      ],
    };
  },
};

function reported(
  state: StateOf<"importing">,
  input: Extract<JobInput, { job: "import-follows" }>,
): Outcome {
  const key = `import:${state.jobId}`;
  const host = newHost(state.target);
  const base = { ...journeyOf(state), target: state.target };
  switch (input.event) {
    case "progress": {
      const left = input.etaMs === null ? "" : ` · ${eta(input.etaMs)}`;
      const text = `Following… ${bar(input.done, input.total)} ${n(input.done)} of ${n(input.total)}${left}`;
      return { state, replies: [progressReply(key, text)] };
    }
    case "waiting":
      return { state, replies: [progressReply(key, waitingText(host, input.until))] };
    case "stopped": {
      if (tokenGone(state, input.error)) {
        const done = input.started ? " What's done stays done;" : "";
        const left = count(input.left, "account is", "accounts are");
        return askNewToken(
          state,
          "I had to stop following",
          `${done} ${left} left, and with a new token I'll carry on.`,
        );
      }
      const why = explainRemote(input.error, host);
      const reason = input.started
        ? `I had to stop following: ${why} What's done stays done; start again to continue.`
        : `I couldn't start following: ${why} Nothing was followed; choose again to retry.`;
      return {
        state: {
          step: "import-preview",
          ...base,
          preview: {
            toFollow: input.left,
            already: input.already,
            unreachable: 0,
            unreachableServers: [],
            dailyLimit: null,
          },
        },
        replies: [say([reason])],
      };
    }
    case "done": {
      const replies: Reply[] = [say(reportText(input.report))];
      if (input.failures.length > 0) {
        replies.push({
          kind: "file",
          name: "not-followed.csv",
          bytes: notFollowedCsv(input.failures),
          caption: ["The accounts I couldn't follow, and why."],
        });
      }
      // "Follow them, then move": the move was already chosen, so it isn't asked again.
      const next =
        state.after === "move"
          ? toAlias(base)
          : { step: "import-done" as const, ...base, report: input.report };
      return { state: next, replies };
    }
  }
}

export function reportText(r: ImportReport): Text {
  const parts = [
    r.followed && `${n(r.followed)} followed`,
    r.requested && `${n(r.requested)} waiting for approval`,
    r.already && `${n(r.already)} already followed`,
    r.notFound && `${n(r.notFound)} not found`,
    r.refused && `${n(r.refused)} refused`,
    r.failed && `${n(r.failed)} failed`,
  ].filter(Boolean);
  return [`Done: ${parts.length ? parts.join(", ") : "nothing to do"}.`];
}
