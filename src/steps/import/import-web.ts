/**
 * The user's way: they upload following_accounts.csv on the new server's
 * web page themselves (the path micro.blog's own help describes), then the bot
 * checks which accounts are still missing and offers to follow those.
 */
import { randomUUID } from "node:crypto";
import { say } from "../../chat/conversation.js";
import { b, count, n } from "../../chat/text.js";
import type { Followed } from "../../clients/new-account.js";
import { followingCsv } from "../../formats/following-csv.js";
import { normalHandle } from "../../model/handle.js";
import { importReport, type StateOf } from "../../model/state.js";
import { explainRemote } from "../lib/explain.js";
import { journeyOf } from "../lib/journey.js";
import { newHost } from "../lib/moving.js";
import { type Step, stay } from "../step.js";
import { askNewToken, tokenGone } from "./new-token.js";

function instructions(state: StateOf<"import-web">) {
  const where =
    state.target.kind === "microblog"
      ? "micro.blog → Account → View Fediverse Details → "
      : `${state.target.instance.host} → Preferences → Import and export → `;
  const what =
    state.target.kind === "microblog" ? "Import Follows" : "Import, type “Following list”";
  return say(
    [
      "Upload the file below at ",
      where,
      b(what),
      ". Imports can take a while on the server; tell me when it has finished and I'll check who's still missing.",
    ],
    {
      choices: [{ id: "done", label: "Done — check it" }],
      links:
        state.target.kind === "mastodon"
          ? [
              {
                label: `Open ${state.target.instance.host}'s import page`,
                url: `${state.target.instance.origin}/settings/imports`,
              },
            ]
          : [],
    },
  );
}

export const importWeb: Step<"import-web"> = {
  name: "import-web",
  async enter(state, ctx) {
    const rows = (await ctx.snapshots.get(ctx.user))?.follows ?? [];
    if (ctx.channel.files === "none" && state.source.kind === "account") {
      // No file reaches this chat; the old server exports the same list itself.
      const old = state.source.old.instance;
      return [
        say(["The file is your follows export from ", old.host, ": download it there first."], {
          links: [
            {
              label: "Download following_accounts.csv",
              url: `${old.origin}/settings/exports/follows.csv`,
            },
          ],
        }),
        instructions(state),
      ];
    }
    return [
      instructions(state),
      {
        kind: "file",
        name: "following_accounts.csv",
        bytes: new TextEncoder().encode(followingCsv(rows)),
        again: ["Send /status and I'll send it again."],
      },
    ];
  },
  async handle(state, input, ctx) {
    const base = { ...journeyOf(state), target: state.target };
    if (input.kind === "choice" && input.id === "follow-missing") {
      const jobId = randomUUID();
      return {
        state: {
          step: "importing",
          ...base,
          jobId,
          startedAt: ctx.now(),
          after: "ask",
          aliasDone: false,
        },
        replies: [],
        jobs: [{ kind: "import-follows", id: jobId, data: { target: state.target } }],
      };
    }
    if (
      !(input.kind === "choice" && input.id === "done") &&
      !(input.kind === "text" && /^(done|ok|finished)\b/i.test(input.text.trim()))
    ) {
      return stay(state, instructions(state));
    }
    const rows = (await ctx.snapshots.get(ctx.user))?.follows ?? [];
    let following: Followed;
    try {
      following = await ctx.world
        .newAccount(state.target, ctx.sealer.unseal(state.target.token))
        .following();
    } catch (err) {
      if (tokenGone(state, err))
        return askNewToken(state, "I couldn't check", " With a new one I'll look again.");
      const host = newHost(state.target);
      return stay(
        state,
        say([`I couldn't check: ${explainRemote(err, host)}`], {
          choices: [{ id: "done", label: "Check again" }],
        }),
      );
    }
    const missing = rows.filter((r) => !following.has(normalHandle(r.acct)));
    if (missing.length === 0) {
      return {
        state: {
          step: "import-done",
          ...base,
          report: importReport(rows.length),
        },
        replies: [say([`All ${n(rows.length)} accounts are followed on @${state.target.handle}.`])],
      };
    }
    const sample = missing
      .slice(0, 5)
      .map((r) => r.acct)
      .join(", ");
    return stay(
      state,
      say(
        [
          `${count(missing.length, "account is", "accounts are")} still missing (${sample}${missing.length > 5 ? ", …" : ""}). The server may still be importing — or I can follow them for you.`,
        ],
        {
          choices: [
            { id: "follow-missing", label: "Follow the missing ones" },
            { id: "done", label: "Check again" },
          ],
        },
      ),
    );
  },
};
