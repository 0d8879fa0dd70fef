/**
 * The alias on the new account, and on micro.blog cross-posting switched off: what
 * to do where, asked together so one answer confirms both; and that answer, checked.
 * The alias step asks it, and so does the import under way when the person already
 * chose to move ("Meanwhile, …"), so it is done while the follows go out. Where the new
 * server shows its actor only to signed requests, the alias can't be read: the person is
 * told so and may go on, never stuck (the move page checks it, and so does the pre-flight).
 */
import { type Reply, say } from "../../chat/conversation.js";
import { b, code } from "../../chat/text.js";
import { checkAlias, describeAlias } from "../../clients/alias-check.js";
import type { Target } from "../../model/state.js";
import type { StepContext, StepInput } from "../step.js";
import { handles, uncheckedAlias } from "./moving.js";

export function askAlias(
  s: { target: Target; oldHandle: string },
  opts: { meanwhile?: boolean } = {},
): Reply {
  const old = `@${s.oldHandle}`;
  if (s.target.kind === "microblog") {
    return say(
      [
        opts.meanwhile
          ? "Meanwhile, two things on micro.blog before the move:\n"
          : "Two things on micro.blog before the move:\n",
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
  const host = s.target.instance.host;
  return say(
    [
      opts.meanwhile ? `Meanwhile, on ${host}, open ` : `On ${host}, open `,
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
          url: `${s.target.instance.origin}/settings/aliases`,
        },
      ],
    },
  );
}

/** "Both done", "Done", or the words. */
export const saysDone = (input: StepInput): boolean =>
  (input.kind === "choice" && input.id === "done") ||
  (input.kind === "text" && /^(both done|done|ok|added)\b/i.test(input.text.trim()));

/** "Go on without the check", offered when the alias couldn't be read. */
export const goesOnUnchecked = (input: StepInput): boolean =>
  input.kind === "choice" && input.id === "alias-unchecked";

/** The answer to "Go on without the check". */
export const unchecked = (): Reply =>
  say(["Going on without the check; the move page will have the last word."]);

/**
 * The alias, checked: a ✅ line to go on with, or what is wrong and a button to look again;
 * when it can't be read at all, why, with a way on as well.
 */
export async function aliasChecked(
  s: { target: Target; oldHandle: string },
  ctx: StepContext,
): Promise<{ ok: true; reply: Reply } | { ok: false; reply: Reply }> {
  const h = handles(s);
  const verdict = await checkAlias(ctx.world.fediverse, h);
  if (verdict.kind === "unchecked") {
    // Never a dead end: the Move form checks the alias itself.
    return {
      ok: false,
      reply: say([uncheckedAlias(s, ctx)], {
        choices: [
          { id: "alias-unchecked", label: "Go on without the check" },
          { id: "done", label: "Check again" },
        ],
      }),
    };
  }
  if (verdict.kind !== "ok") {
    return {
      ok: false,
      reply: say([`Not yet: ${describeAlias(verdict, h)}`], {
        choices: [{ id: "done", label: "Check again" }],
      }),
    };
  }
  return { ok: true, reply: say([`✅ ${describeAlias(verdict, h)}`]) };
}
