/**
 * The snapshot as a durable job: one request at a time, progress saved after
 * each, one progress message edited in place at most every few seconds, waits
 * for the rate limit announced with the time they end. On the last page the
 * snapshot is stored, the files are sent, and the user moves on. A restart
 * resumes from the saved cursor; a failure takes the user back to signing in.
 */
import type { Notifier, Reply } from "../chat/conversation.js";
import { say } from "../chat/conversation.js";
import { n, type Text } from "../chat/text.js";
import type { World } from "../clients/world.js";
import type { Engine } from "../engine/engine.js";
import { snapshotFiles } from "../formats/snapshot-files.js";
import { log } from "../log.js";
import { emptySnapshot, type Snapshot, snapshots } from "../model/snapshot.js";
import type { OldAccount } from "../model/state.js";
import { RemoteError } from "../net/errors.js";
import { reportWaits } from "../net/pacer.js";
import { explainRemote } from "../steps/lib/explain.js";
import type { Sealer } from "../store/seal.js";
import type { Store } from "../store/store.js";
import type { JobHandler, JobRecord } from "./runner.js";
import { type SnapshotCursor, snapshotStep } from "./snapshot-parts.js";

export interface SnapshotJobData {
  old: OldAccount;
  following: number | null;
  followers: number;
  cursor?: SnapshotCursor;
}

const PROGRESS_EVERY_MS = 3000;
const SAVE_EVERY_MS = 2000;

function progressText(cursor: SnapshotCursor, data: SnapshotJobData): string {
  const s = cursor.snapshot;
  switch (cursor.part) {
    case "follows":
      return `Saving your follows… ${n(s.follows.length)}${data.following ? ` of ${n(data.following)}` : ""}`;
    case "followers":
      return `Saving your followers… ${n(s.followers.accts.length)} of ${n(data.followers)}`;
    default:
      return "Saving your lists, blocks, mutes and bookmarks…";
  }
}

export function summary(s: Snapshot): Text {
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
  if (skipped.length > 0) {
    text.push(
      `\nYour token couldn't read ${skipped.map((x) => `${x.part} (${x.scope})`).join(", ")}; those aren't in the files.`,
    );
  }
  return text;
}

export function snapshotJob(deps: {
  engine: Engine;
  world: World;
  sealer: Sealer;
  store: Store;
  notifier: () => Notifier | undefined;
}): JobHandler<SnapshotJobData> {
  return {
    kind: "snapshot",
    async run(job: JobRecord<SnapshotJobData>, control) {
      const { old } = job.data;
      const client = deps.world.mastodon(old.instance.origin, deps.sealer.unseal(old.token));
      const key = `snapshot:${job.id}`;
      let cursor: SnapshotCursor = job.data.cursor ?? {
        part: "follows",
        snapshot: emptySnapshot(Date.now()),
      };
      let lastProgress = 0;
      let lastSave = Date.now();
      const progress = (text: string) =>
        deps.notifier()?.notify(job.user, [{ kind: "progress", key, text: [text] }]);
      const account = {
        id: old.id,
        domain: old.instance.domain,
        followersCount: job.data.followers,
      };
      try {
        await reportWaits(
          (until) =>
            void progress(
              `Waiting for ${old.instance.host}'s rate limit; continuing at ${until.toISOString().slice(11, 16)} UTC.`,
            ),
          async () => {
            while (cursor.part !== "done") {
              control.signal.throwIfAborted();
              const part = cursor.part;
              cursor = await snapshotStep(client, account, cursor);
              const s = cursor.snapshot;
              // The record holds every row so far (1.4 MB at 10k + 10k): saving it after each of
              // 382 requests cost more than the requests (bench/snapshot.ts). Every few seconds,
              // and between parts, a restart re-reads a few pages at most.
              if (Date.now() - lastSave >= SAVE_EVERY_MS || cursor.part !== part) {
                lastSave = Date.now();
                await control.save(
                  { ...job.data, cursor },
                  { done: s.follows.length + s.followers.accts.length },
                );
              }
              if (cursor.part !== "done" && Date.now() - lastProgress > PROGRESS_EVERY_MS) {
                lastProgress = Date.now();
                await progress(progressText(cursor, job.data));
              }
            }
          },
        );
      } catch (err) {
        if (control.signal.aborted || !(err instanceof RemoteError)) throw err;
        log.warn("snapshot failed", { job: job.id, err });
        await deps.engine.advance(job.user, (state) =>
          state.step === "exporting" && state.jobId === job.id
            ? {
                state: { step: "old-token", instance: old.instance },
                replies: [
                  say([
                    `I couldn't finish saving your account: ${explainRemote(err, old.instance.host)}`,
                  ]),
                ],
              }
            : null,
        );
        return;
      }
      const snapshot = cursor.snapshot;
      const files = snapshotFiles(snapshot, {
        domain: old.instance.domain,
        username: old.handle.split("@")[0]!,
      });
      const replies: Reply[] = [
        say(summary(snapshot)),
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
      await deps.engine.advance(job.user, async (state) => {
        if (state.step !== "exporting" || state.jobId !== job.id) return null;
        await snapshots(deps.store).set(job.user, snapshot);
        return {
          state: {
            step: "new-choose",
            source: { kind: "account", old },
            follows: snapshot.follows.length,
            snapshotAt: snapshot.takenAt,
          },
          replies,
        };
      });
    },
  };
}
