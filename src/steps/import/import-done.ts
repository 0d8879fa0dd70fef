/** The import is done; move now, or try the new account for a few days first. */
import { randomUUID } from "node:crypto";
import { say } from "../../chat/conversation.js";
import type { StateOf } from "../../model/state.js";
import { journeyOf } from "../lib/journey.js";
import { newHost, toAlias } from "../lib/moving.js";
import { type Step, stay } from "../step.js";

export const TRY_DAYS = [3, 7] as const;
const DAY = 24 * 60 * 60_000;

export const tryChoices = [
  { id: "move", label: "Move now" },
  ...TRY_DAYS.map((d) => ({ id: `remind-${d}`, label: `Remind me in ${d} days` })),
];

function ask(state: StateOf<"import-done">) {
  const where = newHost(state.target);
  return say(
    [
      `Want to try ${where} for a few days before moving? Your followers stay where they are until you move.`,
    ],
    { choices: tryChoices },
  );
}

/** Shared with "trying": the answer to [Move now] / [Remind me in N days]. */
export function decide(
  state: StateOf<"import-done"> | StateOf<"trying">,
  id: string,
  now: number,
  dayMs = DAY,
) {
  const base = { ...journeyOf(state), target: state.target };
  if (id === "move") return { state: toAlias(state), replies: [] };
  const days = Number(/^remind-(\d+)$/.exec(id)?.[1]);
  if (!TRY_DAYS.includes(days as (typeof TRY_DAYS)[number])) return null;
  const jobId = randomUUID();
  const remindAt = now + days * dayMs;
  return {
    state: { step: "trying" as const, ...base, jobId, remindAt },
    replies: [],
    jobs: [{ kind: "reminder" as const, id: jobId, data: { at: remindAt } }],
  };
}

export const importDone: Step<"import-done"> = {
  name: "import-done",
  enter: (state) => [ask(state)],
  async handle(state, input, ctx) {
    if (input.kind === "choice") {
      const next = decide(state, input.id, ctx.now(), ctx.dayMs);
      if (next) return next;
    }
    return stay(state, ask(state));
  },
};
