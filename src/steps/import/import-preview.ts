/**
 * What the import will do, in numbers, before anything happens; and what comes after it:
 * straight on to the move, or a few days' trial first — one choice, so "move now" is
 * never asked again of someone who already said so.
 */
import { randomUUID } from "node:crypto";
import { say } from "../../chat/conversation.js";
import { b, count, n } from "../../chat/text.js";
import { importReport, type StateOf } from "../../model/state.js";
import { journeyOf } from "../lib/journey.js";
import { newHost, toAlias } from "../lib/moving.js";
import { type Step, stay } from "../step.js";

function describe(state: StateOf<"import-preview">) {
  const p = state.preview;
  const host = newHost(state.target);
  if (p.toFollow === 0) {
    return say(
      [
        `@${state.target.handle} already follows ${state.follows === 1 ? "that account" : `all ${n(state.follows)} accounts`}. Nothing to import.`,
      ],
      {
        choices: [
          { id: "move", label: "Move now" },
          { id: "skip", label: "Try it first" },
        ],
      },
    );
  }
  const text = [
    `I'll follow your ${count(p.toFollow, "account")} on `,
    b(`@${state.target.handle}`),
    ".",
  ];
  if (p.already > 0) text.push(` ${n(p.already)} you already follow.`);
  if (p.unreachable > 0) {
    const verb = p.unreachable === 1 ? "is" : "are";
    text.push(
      ` ${n(p.unreachable)} ${verb} on servers that don't answer right now (${p.unreachableServers.join(", ")}); I'll try them anyway.`,
    );
  }
  if (p.dailyLimit !== null && p.toFollow > p.dailyLimit) {
    const days = Math.ceil(p.toFollow / p.dailyLimit);
    text.push(
      `\n\n${host} lets an app follow ${n(p.dailyLimit)} accounts a day, so I'd need about ${count(days, "day")}. Its own CSV import has no such limit: upload the file there and I'll follow only what's still missing.`,
    );
  }
  return say(text, {
    choices: [
      { id: "start-move", label: "Follow them, then move" },
      { id: "start", label: "Follow them, try it first" },
      { id: "web", label: "I'll import the CSV myself" },
    ],
  });
}

export const importPreview: Step<"import-preview"> = {
  name: "import-preview",
  enter: (state) => [describe(state)],
  async handle(state, input, ctx) {
    const base = { ...journeyOf(state), target: state.target };
    if (input.kind !== "choice") return stay(state, describe(state));
    // Only the buttons this preview offered: with nothing to follow, no import can start; with
    // accounts to follow, the move isn't skipped to (a forged or mistaken press changes nothing).
    const nothingToFollow = state.preview.toFollow === 0;
    if (nothingToFollow && input.id === "skip") {
      return {
        state: {
          step: "import-done",
          ...base,
          report: importReport(state.preview.already),
        },
        replies: [],
      };
    }
    if (nothingToFollow && input.id === "move") return { state: toAlias(base), replies: [] };
    if (!nothingToFollow && input.id === "web")
      return { state: { step: "import-web", ...base, sentAt: ctx.now() }, replies: [] };
    if (!nothingToFollow && (input.id === "start" || input.id === "start-move")) {
      const jobId = randomUUID();
      const after = input.id === "start-move" ? ("move" as const) : ("ask" as const);
      return {
        state: { step: "importing", ...base, jobId, startedAt: ctx.now(), after, aliasDone: false },
        replies: [],
        jobs: [{ kind: "import-follows", id: jobId, data: { target: state.target } }],
      };
    }
    return stay(state, describe(state));
  },
};
