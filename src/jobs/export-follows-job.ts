/**
 * The export as a durable job: one page at a time, progress saved after each, a
 * progress message edited in place at most every few seconds, and on the last
 * page the CSV sent and the user moved on. A restart resumes from the saved
 * cursor; a failure takes the user back to the token step with the reason.
 */

import type { Notifier, Reply } from "../bot/conversation.js";
import { say } from "../bot/conversation.js";
import type { Engine } from "../bot/engine.js";
import { n } from "../bot/text.js";
import { RemoteError } from "../clients/errors.js";
import { reportWaits } from "../clients/pacer.js";
import { followingCsv } from "../formats/following-csv.js";
import { log } from "../log.js";
import { explainRemote } from "../steps/explain.js";
import type { OldAccount } from "../steps/state.js";
import type { World } from "../steps/world.js";
import type { Sealer } from "../store/seal.js";
import { type ExportCursor, exportFollowsPage } from "./export-follows.js";
import type { JobHandler, JobRecord } from "./runner.js";

export interface ExportJobData {
  old: OldAccount;
  total: number | null;
  cursor?: ExportCursor;
}

const PROGRESS_EVERY_MS = 3000;

export function exportFollowsJob(deps: {
  engine: Engine;
  world: World;
  sealer: Sealer;
  notifier: () => Notifier | undefined;
}): JobHandler<ExportJobData> {
  return {
    kind: "export-follows",
    async run(job: JobRecord<ExportJobData>, control) {
      const { old, total } = job.data;
      const client = deps.world.mastodon(old.instance.origin, deps.sealer.unseal(old.token));
      const key = `export:${job.id}`;
      let cursor: ExportCursor = job.data.cursor ?? { rows: [], done: false };
      let lastProgress = 0;
      const progress = (text: string) =>
        deps.notifier()?.notify(job.user, [{ kind: "progress", key, text: [text] }]);
      try {
        await reportWaits(
          (until) =>
            void progress(
              `Waiting for ${old.instance.host}'s rate limit; continuing at ${until.toISOString().slice(11, 16)} UTC.`,
            ),
          async () => {
            while (!cursor.done) {
              control.signal.throwIfAborted();
              cursor = await exportFollowsPage(client, old.id, old.instance.domain, cursor);
              await control.save(
                { ...job.data, cursor },
                { done: cursor.rows.length, total: total ?? undefined },
              );
              if (!cursor.done && Date.now() - lastProgress > PROGRESS_EVERY_MS) {
                lastProgress = Date.now();
                const of = total ? ` of ${n(total)}` : "";
                await progress(`Saving your follows… ${n(cursor.rows.length)}${of}`);
              }
            }
          },
        );
      } catch (err) {
        if (control.signal.aborted || !(err instanceof RemoteError)) throw err;
        log.warn("export failed", { job: job.id, err });
        await deps.engine.advance(job.user, (state) =>
          state.step === "exporting" && state.jobId === job.id
            ? {
                state: { step: "old-token", instance: old.instance },
                replies: [
                  say([
                    `I couldn't finish saving your follows: ${explainRemote(err, old.instance.host)}`,
                  ]),
                ],
              }
            : null,
        );
        return;
      }
      const rows = cursor.rows;
      const file: Reply = {
        kind: "file",
        name: "following_accounts.csv",
        bytes: new TextEncoder().encode(followingCsv(rows)),
        caption: [`${n(rows.length)} accounts you follow, as Mastodon exports them.`],
      };
      await deps.engine.advance(job.user, (state) =>
        state.step === "exporting" && state.jobId === job.id
          ? {
              state: {
                step: "connect-new",
                old,
                exported: { follows: rows.length, at: Date.now() },
              },
              replies: [say([`Saved: ${n(rows.length)} follows.`]), file],
            }
          : null,
      );
    },
  };
}
