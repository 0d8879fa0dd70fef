/**
 * The new account names the old one as an alias. No API exists for it
 * on micro.blog or Mastodon, so the bot gives the exact place and text, then
 * checks the new actor's alsoKnownAs itself and says precisely what is wrong.
 */
import { say } from "../../chat/conversation.js";
import { b, code } from "../../chat/text.js";
import { checkAlias, describeAlias } from "../../clients/alias-check.js";
import type { StateOf } from "../../model/state.js";
import { handles, movingOf, uncheckedAlias } from "../lib/moving.js";
import { type Step, stay } from "../step.js";

function ask(state: StateOf<"alias">) {
  const old = `@${state.oldHandle}`;
  if (state.target.kind === "microblog") {
    return say(
      [
        "On micro.blog, open ",
        b("Account → View Fediverse Details → Aliases → Add Alias"),
        " and enter:\n",
        code(old),
        "\nThen tell me.",
      ],
      {
        choices: [{ id: "done", label: "Done" }],
      },
    );
  }
  const host = state.target.instance.host;
  return say(
    [
      `On ${host}, open `,
      b("Preferences → Account → Moving from a different account → Create an account alias"),
      " and enter:\n",
      code(old),
      "\nThen tell me.",
    ],
    {
      choices: [{ id: "done", label: "Done" }],
      links: [
        {
          label: `Open ${host}'s aliases`,
          url: `${state.target.instance.origin}/settings/aliases`,
        },
      ],
    },
  );
}

export const alias: Step<"alias"> = {
  name: "alias",
  enter: (state) => [ask(state)],
  async handle(state, input, ctx) {
    const done =
      (input.kind === "choice" && input.id === "done") ||
      (input.kind === "text" && /^(done|ok|added)\b/i.test(input.text.trim()));
    const next =
      state.target.kind === "microblog" ? ("crosspost" as const) : ("preflight" as const);
    if (input.kind === "choice" && input.id === "alias-unchecked") {
      return {
        state: { step: next, ...movingOf(state) },
        replies: [say(["Going on without the check; the move page will have the last word."])],
      };
    }
    if (!done) return stay(state, ask(state));
    const verdict = await checkAlias(ctx.world.fediverse, handles(state));
    if (verdict.kind === "unchecked") {
      // Never a dead end: the Move form checks the alias itself.
      return stay(
        state,
        say([uncheckedAlias(state, ctx)], {
          choices: [
            { id: "alias-unchecked", label: "Go on without the check" },
            { id: "done", label: "Check again" },
          ],
        }),
      );
    }
    if (verdict.kind !== "ok") {
      return stay(
        state,
        say([`Not yet: ${describeAlias(verdict, handles(state))}`], {
          choices: [{ id: "done", label: "Check again" }],
        }),
      );
    }
    return {
      state: { step: next, ...movingOf(state) },
      replies: [say([`✅ ${describeAlias(verdict, handles(state))}`])],
    };
  },
};
