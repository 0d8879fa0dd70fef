/** Trying the new account: a durable reminder is set; the user can move any time. */
import { say } from "../../chat/conversation.js";
import type { StateOf } from "../../model/state.js";
import { newHost } from "../lib/moving.js";
import { type Step, stay } from "../step.js";
import { decide, tryChoices } from "./import-done.js";

const day = (ms: number) => new Date(ms).toUTCString().slice(0, 11);

function waiting(state: StateOf<"trying">) {
  return say(
    [
      `I'll remind you on ${day(state.remindAt)}. Take your time — tap Move now whenever you're ready.`,
    ],
    {
      choices: [{ id: "move", label: "Move now" }],
    },
  );
}

export const trying: Step<"trying"> = {
  name: "trying",
  enter: (state) => [waiting(state)],
  async handle(state, input, ctx) {
    // The reminder job: it's time to ask.
    if (input.kind === "job") return stay(state, reminderReply(state));
    if (input.kind === "choice") {
      const next = decide(state, input.id, ctx.now(), ctx.dayMs);
      if (next) return next;
    }
    return stay(state, waiting(state));
  },
};

/** What the reminder says when it fires. */
const reminderReply = (state: StateOf<"trying">) => {
  const where = newHost(state.target);
  return say([`How is ${where} treating you? Ready to move your followers?`], {
    choices: tryChoices,
  });
};
