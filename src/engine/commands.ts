/**
 * The commands every step shares: /start, /status, /back, /cancel, /forget and
 * /help. They are the engine's, not a step's: they work the same wherever the
 * user is, and /back and /cancel reach across steps.
 */
import { type Reply, say } from "../chat/conversation.js";
import { b } from "../chat/text.js";
import type { JobQueue } from "../jobs/queue.js";
import type { Saved, State } from "../model/state.js";
import { stepOf } from "../steps/index.js";
import type { Outcome, StepContext } from "../steps/step.js";

/** An outcome, plus what only the engine decides: the /back history. */
export interface Change extends Outcome {
  history?: State[];
}

const HELP: Reply = say([
  b("Commands\n"),
  "/start — begin, or pick up where we were\n",
  "/status — where we are and what's running\n",
  "/back — one step back\n",
  "/cancel — stop, and leave nothing running\n",
  "/forget — delete everything I know about you\n",
  "/help — this list",
]);

export async function command(opts: {
  saved: Saved | undefined;
  state: State;
  name: string;
  ctx: StepContext;
  jobs: JobQueue;
}): Promise<Change> {
  const { saved, state, name, ctx } = opts;
  const step = stepOf(state);
  const status = () => (step.status ?? step.enter)(state, ctx);
  switch (name) {
    case "start":
      if (!saved || state.step === "welcome")
        return { state, replies: await step.enter(state, ctx) };
      return { state, replies: [say(["Welcome back! We were here:"]), ...(await status())] };
    case "status":
      return { state, replies: await status() };
    case "help":
      return { state, replies: [HELP] };
    case "back": {
      const back = backTarget(saved);
      if (step.canGoBack === false || !back) {
        const why =
          state.step === "exporting"
            ? "I'm in the middle of saving your follows; /cancel stops that."
            : "There's no step before this one.";
        return { state, replies: [say([why])] };
      }
      return {
        state: back.state,
        history: back.history,
        replies: await stepOf(back.state).enter(back.state, ctx),
      };
    }
    case "cancel":
      await opts.jobs.cancelAll(ctx.user);
      return {
        state: { step: "welcome" },
        history: [],
        replies: [
          say([
            "Stopped. Nothing is running for you now. /start begins again; /forget deletes what I kept.",
          ]),
        ],
      };
    case "forget":
      return {
        state: { step: "welcome" },
        forget: true,
        replies: [
          say([
            "Done: I've deleted everything I had about you. /start if you want to begin again.",
          ]),
        ],
      };
    default:
      return { state, replies: [HELP] };
  }
}

/** The newest earlier state one can return to (not a transient one like "exporting"), and the history before it. */
function backTarget(saved: Saved | undefined): { state: State; history: State[] } | undefined {
  const history = saved?.history ?? [];
  for (let k = history.length - 1; k >= 0; k--) {
    const candidate = history[k]!;
    if (stepOf(candidate).transient !== true && candidate.step !== saved?.state.step) {
      return { state: candidate, history: history.slice(0, k) };
    }
  }
  return undefined;
}
