/**
 * Saving the old account, while the snapshot job runs: its progress edited in
 * one message, its waits announced with their time; when it reports the whole
 * snapshot, the snapshot is kept, the files are sent, and the user moves on to
 * the new account (micro.blog's token asked for at once, where it can be). A failure goes back to signing in, with the reason.
 */
import { type Reply, say } from "../../chat/conversation.js";
import { n, type Text } from "../../chat/text.js";
import { PART_SINCE, serverHas, versionName } from "../../clients/mastodon-versions.js";
import { snapshotFiles } from "../../formats/snapshot-files.js";
import { splitHandle } from "../../model/handle.js";
import type { JobInput } from "../../model/jobs.js";
import type { Snapshot } from "../../model/snapshot.js";
import type { StateOf } from "../../model/state.js";
import { explainRemote } from "../lib/explain.js";
import { toNewAccount } from "../lib/new-account.js";
import { progressReply, waitingText } from "../lib/progress.js";
import type { Outcome, Step, StepContext } from "../step.js";

export const exporting: Step<"exporting"> = {
  name: "exporting",
  canGoBack: false,
  transient: true,
  enter: () => [],
  status: async (state, ctx) => [say([await progressLine(state, ctx)])],
  async handle(state, input, ctx) {
    if (input.kind === "job" && input.job === "snapshot") return reported(state, input, ctx);
    return {
      state,
      replies: [
        say([
          await progressLine(state, ctx),
          " I'll send the file here when it's done; /cancel stops it.",
        ]),
      ],
    };
  },
};

async function reported(
  state: StateOf<"exporting">,
  input: Extract<JobInput, { job: "snapshot" }>,
  ctx: StepContext,
): Promise<Outcome> {
  const key = `snapshot:${state.jobId}`;
  const host = state.old.instance.host;
  switch (input.event) {
    case "progress": {
      const { follows, followers, of } = input;
      const text =
        input.part === "follows"
          ? `Saving your follows… ${n(follows)}${of.follows ? ` of ${n(of.follows)}` : ""}`
          : input.part === "followers"
            ? `Saving your followers… ${n(followers)} of ${n(of.followers)}`
            : "Saving your lists, blocks, mutes and bookmarks…";
      return { state, replies: [progressReply(key, text)] };
    }
    case "waiting":
      return { state, replies: [progressReply(key, waitingText(host, input.until))] };
    case "failed":
      return {
        state: { step: "old-token", instance: state.old.instance },
        replies: [
          say([`I couldn't finish saving your account: ${explainRemote(input.error, host)}`]),
        ],
      };
    case "saved": {
      const snapshot = input.snapshot;
      await ctx.snapshots.set(ctx.user, snapshot);
      return {
        state: toNewAccount(
          {
            source: { kind: "account", old: state.old },
            follows: snapshot.follows.length,
            snapshotAt: snapshot.takenAt,
          },
          ctx,
        ),
        replies: savedReplies(snapshot, state.old),
      };
    }
  }
}

function savedReplies(snapshot: Snapshot, old: StateOf<"exporting">["old"]): Reply[] {
  const files = snapshotFiles(snapshot, {
    domain: old.instance.domain,
    username: splitHandle(old.handle).user,
  });
  return [
    say(summary(snapshot, old.instance)),
    {
      kind: "file",
      name: "following_accounts.csv",
      bytes: files.following,
      caption: ["The accounts you follow, as Mastodon exports them."],
    },
    {
      kind: "file",
      name: files.zipName,
      bytes: files.zip,
      caption: ["Everything else, in Mastodon's own export formats."],
    },
  ];
}

export function summary(s: Snapshot, server: { host: string; version: string }): Text {
  const parts = [
    `${n(s.follows.length)} follows`,
    s.followers.hidden
      ? `${n(s.followers.count)} followers (count only)`
      : `${n(s.followers.accts.length)} followers`,
    `${n(new Set(s.lists.map((l) => l.title)).size)} lists`,
    `${n(s.blocks.length)} blocks`,
    `${n(s.mutes.length)} mutes`,
    `${n(s.domainBlocks.length)} blocked domains`,
    `${n(s.bookmarks.length)} bookmarks`,
  ];
  const text: string[] = [`Saved: ${parts.join(", ")}.`];
  if (s.followers.hidden) {
    text.push(
      `\nYour server doesn't show your followers list, so I kept the count (${n(s.followers.count)}) but not the names; I'll still watch the count after the move.`,
    );
  }
  const skipped = s.skipped.filter((x) => !(x.part === "followers" && s.followers.hidden));
  // A part the server's version predates was never there to read; the rest the token lacked.
  const absent = skipped.filter((x) => !serverHas(x.part, server.version));
  const refused = skipped.filter((x) => serverHas(x.part, server.version));
  for (const x of absent) {
    const since = PART_SINCE[x.part];
    text.push(
      `\n${server.host} runs Mastodon ${server.version}, which has no ${x.part}${since ? ` (they came in ${versionName(since)})` : ""}, so there were none to save.`,
    );
  }
  if (refused.length > 0) {
    text.push(
      `\nYour token couldn't read ${refused.map((x) => `${x.part} (${x.scope})`).join(", ")}; those aren't in the files.`,
    );
  }
  return text;
}

async function progressLine(state: StateOf<"exporting">, ctx: StepContext): Promise<string> {
  const p = await ctx.counted(state.jobId);
  if (!p || p.done === 0) {
    return "I'm saving your account: follows first, then followers, lists, blocks, mutes and bookmarks.";
  }
  return `Saving your account: ${n(p.done)} follows and followers so far.`;
}
