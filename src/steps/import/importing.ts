/**
 * Following everyone on the new account, while the import job runs: progress
 * with a bar and an ETA in one edited message, waits announced with their time,
 * then the report and not-followed.csv. When the person chose "Follow them, then
 * move", the alias and cross-posting are asked meanwhile, and the report leads on
 * to the pre-flight checks (or to the alias, if not done yet); otherwise to the
 * question whether to try the account first. When the server stops the import, back
 * to the preview with what is left and why; what's done stays done. When
 * micro.blog no longer takes the app token, nothing else can help: back to
 * pasting a token, and the preview after it counts what's left.
 */
import { type Reply, say } from "../../chat/conversation.js";
import { count, n, type Text } from "../../chat/text.js";
import { notFollowedCsv } from "../../formats/report-csv.js";
import type { JobInput } from "../../model/jobs.js";
import type { ImportReport, StateOf } from "../../model/state.js";
import { aliasChecked, askAlias, goesOnUnchecked, saysDone, unchecked } from "../lib/alias-ask.js";
import { explainRemote } from "../lib/explain.js";
import { journeyOf } from "../lib/journey.js";
import { newHost, toAlias } from "../lib/moving.js";
import { bar, eta, progressReply, waitingText } from "../lib/progress.js";
import { type Outcome, type Step, type StepContext, stay } from "../step.js";
import { askNewToken, tokenGone } from "./new-token.js";

async function line(jobId: string, ctx: StepContext): Promise<string> {
  const p = await ctx.counted(jobId);
  if (!p || p.done === 0) return "I'm following your accounts on the new account.";
  return `Following: ${n(p.done)} of ${n(p.total ?? p.done)} accounts gone through so far.`;
}

/**
 * The person chose to move once the follows are done, and the old handle is known: the
 * alias and cross-posting can be done while the follows go out, so they are asked now.
 */
function aliasNow(state: StateOf<"importing">) {
  if (state.after !== "move" || state.aliasDone || state.source.kind !== "account") return;
  return { target: state.target, oldHandle: state.source.old.handle };
}

const meanwhile = (state: StateOf<"importing">): Reply[] => {
  const a = aliasNow(state);
  return a ? [askAlias(a, { meanwhile: true })] : [];
};

export const importing: Step<"importing"> = {
  name: "importing",
  canGoBack: false,
  transient: true,
  enter: (state) => meanwhile(state),
  status: async (state, ctx) => [say([await line(state.jobId, ctx)]), ...meanwhile(state)],
  async handle(state, input, ctx) {
    if (input.kind === "job" && input.job === "import-follows") return reported(state, input);
    const a = aliasNow(state);
    if (a && goesOnUnchecked(input)) {
      // The pre-flight after the report checks again, and blocks on anything it can read that is wrong.
      return {
        state: { ...state, aliasDone: true },
        replies: [
          unchecked(),
          say(["I'll show the last checks before the move as soon as the follows are done."]),
        ],
      };
    }
    if (a && saysDone(input)) {
      const checked = await aliasChecked(a, ctx);
      if (!checked.ok) return stay(state, checked.reply);
      return {
        state: { ...state, aliasDone: true },
        replies: [
          checked.reply,
          say(["I'll show the last checks before the move as soon as the follows are done."]),
        ],
      };
    }
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
        state.after !== "move"
          ? { step: "import-done" as const, ...base, report: input.report }
          : state.aliasDone && state.source.kind === "account"
            ? { step: "preflight" as const, ...base, oldHandle: state.source.old.handle }
            : toAlias(base);
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
