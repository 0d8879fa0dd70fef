/** For those who uploaded a file: the old account's handle, which the alias and the Move need. */
import { say } from "../../chat/conversation.js";
import { code } from "../../chat/text.js";
import { splitHandle } from "../../model/handle.js";
import type { StateOf } from "../../model/state.js";
import { journeyOf } from "../lib/journey.js";
import { type Step, stay } from "../step.js";

function ask(state: StateOf<"old-handle">) {
  const domain = state.source.kind === "file" ? state.source.instance.domain : "your.server";
  return say([
    "What's the handle of the account you're moving from? (e.g. ",
    code(`@you@${domain}`),
    ")",
  ]);
}

export const oldHandle: Step<"old-handle"> = {
  name: "old-handle",
  enter: (state) => [ask(state)],
  async handle(state, input) {
    if (input.kind !== "text") return stay(state, ask(state));
    const text = input.text.trim().replace(/^@/, "");
    try {
      const { user, host } = splitHandle(text);
      return {
        state: {
          step: "alias",
          ...journeyOf(state),
          target: state.target,
          oldHandle: `${user}@${host}`,
        },
        replies: [],
      };
    } catch {
      return stay(state, say(["That isn't a handle: write it as ", code("@name@server"), "."]));
    }
  },
};
