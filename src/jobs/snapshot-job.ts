/**
 * The snapshot as a durable job: one request at a time, the cursor saved every
 * few seconds and between parts, progress reported at most every few seconds,
 * waits for the rate limit reported with the time they end. On the last page the
 * whole snapshot is reported to the step, which keeps it and moves the user on.
 * A restart resumes from the saved cursor; a remote failure is reported too.
 */

import type { World } from "../clients/world.js";
import { log } from "../log.js";
import { JobData, type JobDataOf, type JobEvents } from "../model/jobs.js";
import { emptySnapshot } from "../model/snapshot.js";
import { RemoteError } from "../net/errors.js";
import { reportWaits } from "../net/pacer.js";
import type { Sealer } from "../store/seal.js";
import type { JobHandler } from "./queue.js";
import { SnapshotCursor, snapshotStep } from "./snapshot-parts.js";

const PROGRESS_EVERY_MS = 3000;
const SAVE_EVERY_MS = 2000;

export function snapshotJob(deps: {
  world: World;
  sealer: Sealer;
}): JobHandler<JobDataOf<"snapshot">, SnapshotCursor, JobEvents["snapshot"], { done: number }> {
  return {
    kind: "snapshot",
    data: JobData.snapshot,
    cursor: SnapshotCursor,
    async run(job, control) {
      const { old } = job.data;
      const client = deps.world.mastodon(old.instance.origin, deps.sealer.unseal(old.token));
      let cursor: SnapshotCursor = job.cursor ?? {
        part: "follows",
        snapshot: emptySnapshot(Date.now()),
      };
      let lastProgress = 0;
      let lastSave = Date.now();
      const account = {
        id: old.id,
        domain: old.instance.domain,
        followersCount: job.data.followers,
        version: old.instance.version,
      };
      try {
        await reportWaits(
          (until) => void control.report({ event: "waiting", until: until.getTime() }),
          async () => {
            while (cursor.part !== "done") {
              control.signal.throwIfAborted();
              const part = cursor.part;
              cursor = await snapshotStep(client, account, cursor);
              const s = cursor.snapshot;
              // The cursor holds every row so far (1.4 MB at 10k + 10k): saving it after each of
              // 382 requests cost more than the requests (bench/snapshot.ts). Every few seconds,
              // and between parts, a restart re-reads a few pages at most.
              if (Date.now() - lastSave >= SAVE_EVERY_MS || cursor.part !== part) {
                lastSave = Date.now();
                await control.save(cursor, { done: s.follows.length + s.followers.accts.length });
              }
              if (cursor.part !== "done" && Date.now() - lastProgress > PROGRESS_EVERY_MS) {
                lastProgress = Date.now();
                await control.report({
                  event: "progress",
                  part: cursor.part,
                  follows: s.follows.length,
                  followers: s.followers.accts.length,
                  of: { follows: job.data.following, followers: job.data.followers },
                });
              }
            }
          },
        );
      } catch (err) {
        if (control.signal.aborted || !(err instanceof RemoteError)) throw err;
        log.warn("snapshot failed", { job: job.id, err });
        await control.report({ event: "failed", error: err });
        return undefined;
      }
      await control.report({ event: "saved", snapshot: cursor.snapshot });
      return undefined;
    },
  };
}
