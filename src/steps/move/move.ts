/**
 * The Move itself happens on the old server's web page (no API), so the
 * bot opens it, gives the handle to paste, and then checks the old account's
 * actor for movedTo by itself — on a poll begun at the confirmation, and at
 * once on "I've moved".
 */
import { randomUUID } from "node:crypto";
import { say } from "../../chat/conversation.js";
import { code } from "../../chat/text.js";
import { describeMove, type MoveVerdict } from "../../clients/alias-check.js";
import { splitHandle } from "../../model/handle.js";
import type { JobInput, WatchRequest } from "../../model/jobs.js";
import type { StateOf } from "../../model/state.js";
import {
  handles,
  movingOf,
  oldAccountMoved,
  oldOrigin,
  uncheckedMove,
  WATCH_FOR_MOVE_MS,
} from "../lib/moving.js";
import type { Outcome, Step, StepContext } from "../step.js";

function ask(state: StateOf<"move">) {
  const oldHost = splitHandle(state.oldHandle).host;
  return [
    say([
      "If you like, post this from your old account first — afterwards it can't post:\n",
      code(`I've moved to @${state.target.handle} — follow me there! Moving with fedimove.`),
    ]),
    say(
      [
        `Now open ${oldHost}'s move page, enter `,
        code(`@${state.target.handle}`),
        // Watching already (from the confirmation): nobody needs to say they've moved.
        state.pollJobId
          ? " and your password, and submit. I'll see the move here by myself within a minute."
          : " and your password, and submit. Then tell me.",
      ],
      {
        links: [{ label: "Open the move page", url: `${oldOrigin(state)}/settings/migration` }],
        choices: [{ id: "moved", label: "I've moved" }],
      },
    ),
  ];
}

/** Where a move verdict leads: on, stay (with a poll), or stop. */
function afterVerdict(state: StateOf<"move">, v: MoveVerdict, now: number): Outcome | null {
  const h = handles(state);
  if (v.kind === "moved") {
    const watchJobId = randomUUID();
    return {
      state: { step: "watching", ...movingOf(state), movedAt: now, watchJobId, quiet: false },
      replies: [say([`✅ ${describeMove(v, h)}`])],
      jobs: [{ kind: "watch", id: watchJobId, data: watchRequest(state, now) }],
    };
  }
  if (v.kind === "elsewhere") {
    return {
      state: { step: "moved-elsewhere", ...movingOf(state), to: v.shown },
      replies: [say([describeMove(v, h)])],
    };
  }
  return null;
}

/** What the transfer watch needs: where the old account is, and from when. */
function watchRequest(state: StateOf<"move">, now: number): WatchRequest {
  const { user, host } = splitHandle(state.oldHandle);
  return {
    origin: oldOrigin(state),
    username: user,
    domain: host,
    startedAt: now,
    target: state.target,
  };
}

/** The poll job: look again; or, when it has looked long enough, say so. */
async function polled(
  state: StateOf<"move">,
  input: Extract<JobInput, { job: "move-poll" }>,
  ctx: StepContext,
): Promise<Outcome> {
  if (input.event === "ended") {
    return {
      state: { ...state, pollJobId: undefined },
      replies: [
        say(
          [
            "I still don't see the move on the old account. Did its form show an error? Tap I've moved once it's done.",
          ],
          { choices: [{ id: "moved", label: "I've moved" }] },
        ),
      ],
    };
  }
  const verdict = await oldAccountMoved(state, ctx);
  const next = afterVerdict(state, verdict, ctx.now());
  if (next) return next;
  // Looking again can't show what the old server won't show: say so now, not in half an hour.
  if (verdict.kind === "unchecked") return unseen(state, verdict, ctx);
  return { state, replies: [] };
}

/**
 * Nothing public shows the Move (secure mode, closed API): never a dead end — the user saw
 * the move page's answer, and their word is taken for it. Any poll stops: it can't see it either.
 */
function unseen(
  state: StateOf<"move">,
  verdict: Extract<MoveVerdict, { kind: "unchecked" }>,
  ctx: StepContext,
): Outcome {
  return {
    state: { ...state, pollJobId: undefined },
    replies: [
      say(
        [
          `${uncheckedMove(verdict, ctx)}. If the move page said your account is now redirected to @${state.target.handle}, tell me and I'll start watching your followers move.`,
        ],
        {
          choices: [
            { id: "moved-unchecked", label: "The page said it's moved" },
            { id: "moved", label: "Check again" },
          ],
        },
      ),
    ],
  };
}

export const move: Step<"move"> = {
  name: "move",
  canGoBack: false,
  enter: (state) => ask(state),
  async handle(state, input, ctx) {
    if (input.kind === "job" && input.job === "move-poll") return polled(state, input, ctx);
    if (input.kind === "choice" && input.id === "moved-unchecked") {
      // The user saw the move page succeed; nothing public can confirm it (see below).
      const next = afterVerdict(state, { kind: "moved", to: state.target.handle }, ctx.now())!;
      return {
        ...next,
        replies: [say(["Going by what the move page told you: your account has moved."])],
      };
    }
    if (
      !(input.kind === "choice" && input.id === "moved") &&
      !(input.kind === "text" && /moved|done/i.test(input.text))
    ) {
      return { state, replies: ask(state) };
    }
    const verdict = await oldAccountMoved(state, ctx);
    const next = afterVerdict(state, verdict, ctx.now());
    if (next) return next;
    if (verdict.kind === "unchecked") return unseen(state, verdict, ctx);
    const reply = say([
      `Not yet: ${describeMove(verdict, handles(state))} The old server can take a minute; I'll keep checking and tell you as soon as it shows. If its form showed an error, tell me what it said.`,
    ]);
    if (state.pollJobId) return { state, replies: [reply] };
    const pollJobId = randomUUID();
    return {
      state: { ...state, pollJobId },
      replies: [reply],
      jobs: [{ kind: "move-poll", id: pollJobId, data: { until: ctx.now() + WATCH_FOR_MOVE_MS } }],
    };
  },
};
