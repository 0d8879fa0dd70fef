/**
 * The new account names the old one as an alias, and on micro.blog cross-posting
 * to Mastodon is switched off: two things on the new account's web pages, asked
 * together and confirmed with one answer. No API exists for either, so the bot
 * gives the exact place and text, then checks the new actor's alsoKnownAs itself
 * and says precisely what is wrong; cross-posting it can't see, so the person's
 * word is taken for it.
 */
import { say } from "../../chat/conversation.js";
import { b, code } from "../../chat/text.js";
import { checkAlias, describeAlias } from "../../clients/alias-check.js";
import type { StateOf } from "../../model/state.js";
import { handles, movingOf } from "../lib/moving.js";
import { type Step, stay } from "../step.js";

function ask(state: StateOf<"alias">) {
  const old = `@${state.oldHandle}`;
  if (state.target.kind === "microblog") {
    return say(
      [
        "Two things on micro.blog before the move:\n",
        "1. ",
        b("Account → View Fediverse Details → Aliases → Add Alias"),
        ", and enter:\n",
        code(old),
        "\n2. ",
        b("Account → Edit Sources & Cross-posting"),
        ": remove your Mastodon account, if it's there. After the move your old account is locked; cross-posting to it would fail, or post everything twice.\n",
        "Then tell me, and I'll check the alias.",
      ],
      { choices: [{ id: "done", label: "Both done" }] },
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
      (input.kind === "text" && /^(both done|done|ok|added)\b/i.test(input.text.trim()));
    if (!done) return stay(state, ask(state));
    const verdict = await checkAlias(ctx.world.fediverse, handles(state));
    if (verdict.kind !== "ok") {
      return stay(
        state,
        say([`Not yet: ${describeAlias(verdict, handles(state))}`], {
          choices: [{ id: "done", label: "Check again" }],
        }),
      );
    }
    return {
      state: { step: "preflight", ...movingOf(state) },
      replies: [say([`✅ ${describeAlias(verdict, handles(state))}`])],
    };
  },
};
