/**
 * The follow import as a durable job. Progress is saved item by item, and the
 * account being followed is written down before the request goes out: a process
 * killed mid-request finds it on restart and asks whether the follow landed
 * instead of following again. One account failing never stops the rest; a rate
 * limit is waited out (the pacer holds the request) and announced with its time.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Notifier, Reply } from "../chat/conversation.js";
import { say } from "../chat/conversation.js";
import { n, type Text } from "../chat/text.js";
import { type FollowResult, normalHandle } from "../clients/new-account.js";
import type { World } from "../clients/world.js";
import type { Engine } from "../engine/engine.js";
import { rubyCsvRow } from "../formats/ruby-csv.js";
import { log } from "../log.js";
import { snapshots } from "../model/snapshot.js";
import type { ImportReport, Target } from "../model/state.js";
import { RateLimitedError, RejectedError, RemoteError } from "../net/errors.js";
import { reportWaits } from "../net/pacer.js";
import { explainRemote } from "../steps/lib/explain.js";
import { journeyOf } from "../steps/lib/journey.js";
import type { Sealer } from "../store/seal.js";
import type { Store } from "../store/store.js";
import type { JobHandler, JobRecord } from "./runner.js";

export interface ImportCursor {
  /** The next row of the snapshot's follows. */
  i: number;
  /** The account whose follow request may have gone out when the process stopped. */
  inflight?: string;
  counts: ImportReport;
  failures: { acct: string; result: "not found" | "refused" | "failed"; reason: string }[];
  /** Followed before the import began, fixed at its start so a restart skips the same rows. */
  already: string[];
}

export interface ImportJobData {
  target: Target;
  cursor?: ImportCursor;
}

const PROGRESS_EVERY_MS = 3000;
const BAR = 10;

export const zeroReport = (): ImportReport => ({
  followed: 0,
  requested: 0,
  already: 0,
  notFound: 0,
  refused: 0,
  failed: 0,
});

function bar(done: number, total: number): string {
  const filled = total === 0 ? BAR : Math.round((done / total) * BAR);
  return "▓".repeat(filled) + "░".repeat(BAR - filled);
}

function eta(ms: number): string {
  const min = Math.ceil(ms / 60_000);
  return min <= 1
    ? "about a minute left"
    : min < 90
      ? `about ${min} min left`
      : `about ${Math.round(min / 60)} h left`;
}

export function reportText(r: ImportReport): Text {
  const parts = [
    r.followed && `${n(r.followed)} followed`,
    r.requested && `${n(r.requested)} waiting for approval`,
    r.already && `${n(r.already)} already followed`,
    r.notFound && `${n(r.notFound)} not found`,
    r.refused && `${n(r.refused)} refused`,
    r.failed && `${n(r.failed)} failed`,
  ].filter(Boolean);
  return [`Done: ${parts.length ? parts.join(", ") : "nothing to do"}.`];
}

export function notFollowedCsv(failures: ImportCursor["failures"]): string {
  return `${[
    "Account address,Result,Reason",
    ...failures.map((f) => rubyCsvRow([f.acct, f.result, f.reason]).trimEnd()),
  ].join("\n")}\n`;
}

export function importJob(deps: {
  engine: Engine;
  world: World;
  sealer: Sealer;
  store: Store;
  notifier: () => Notifier | undefined;
}): JobHandler<ImportJobData> {
  return {
    kind: "import-follows",
    async run(job: JobRecord<ImportJobData>, control) {
      const { target } = job.data;
      const host = target.kind === "microblog" ? "micro.blog" : target.instance.host;
      const account = deps.world.newAccount(target, deps.sealer.unseal(target.token));
      const rows = (await snapshots(deps.store).get(job.user))?.follows ?? [];
      const key = `import:${job.id}`;
      /** Stopped by the server: back to the preview with what's left and the reason; what's done stays done. */
      const backToPreview = (toFollow: number, alreadyFollowed: number, reason: string) =>
        deps.engine.advance(job.user, (state) =>
          state.step === "importing" && state.jobId === job.id
            ? {
                state: {
                  step: "import-preview",
                  ...journeyOf(state),
                  target: state.target,
                  preview: {
                    toFollow,
                    already: alreadyFollowed,
                    unreachable: 0,
                    unreachableServers: [],
                    dailyLimit: null,
                  },
                },
                replies: [say([reason])],
              }
            : null,
        );
      const progress = (text: string) =>
        deps.notifier()?.notify(job.user, [{ kind: "progress", key, text: [text] }]);

      let cursor: ImportCursor;
      try {
        cursor = job.data.cursor ?? {
          i: 0,
          counts: zeroReport(),
          failures: [],
          already: [...(await account.following())],
        };
      } catch (err) {
        if (control.signal.aborted || !(err instanceof RemoteError)) throw err;
        // Nothing was followed yet: back to the preview, with the reason.
        await backToPreview(
          rows.length,
          0,
          `I couldn't start following: ${explainRemote(err, host)} Nothing was followed; tap Start following to try again.`,
        );
        return;
      }
      if (!job.data.cursor) await control.save({ ...job.data, cursor });
      const already = new Set(cursor.already);
      const total = rows.filter((r) => !already.has(normalHandle(r.acct))).length;
      const startedAt = Date.now();
      const doneAtStart = cursor.i;
      let lastProgress = 0;

      const save = (c: ImportCursor) =>
        control.save({ ...job.data, cursor: c }, { done: c.i, total: rows.length });
      try {
        await reportWaits(
          (until) =>
            void progress(
              `Waiting for ${host}'s rate limit; continuing at ${until.toISOString().slice(11, 16)} UTC.`,
            ),
          async () => {
            while (cursor.i < rows.length) {
              control.signal.throwIfAborted();
              const row = rows[cursor.i]!;
              const acct = normalHandle(row.acct);
              if (already.has(acct)) {
                cursor = {
                  ...cursor,
                  i: cursor.i + 1,
                  counts: { ...cursor.counts, already: cursor.counts.already + 1 },
                };
                continue;
              }
              let result: FollowResult | { kind: "failed"; reason: string };
              if (cursor.inflight === acct && (await account.isFollowing(acct))) {
                result = { kind: "followed" }; // it landed before the restart: don't send it twice
              } else {
                cursor = { ...cursor, inflight: acct };
                await save(cursor);
                result = await followOnce(() => account.follow(row), control.signal, host);
              }
              cursor = { ...record(cursor, acct, result), i: cursor.i + 1, inflight: undefined };
              await save(cursor);
              if (Date.now() - lastProgress > PROGRESS_EVERY_MS && cursor.i < rows.length) {
                lastProgress = Date.now();
                const done = processed(cursor.counts) - cursor.counts.already;
                const rate = (cursor.i - doneAtStart) / Math.max(1, Date.now() - startedAt);
                const left = rate > 0 ? eta((total - done) / rate) : "";
                await progress(
                  `Following… ${bar(done, total)} ${n(done)} of ${n(total)}${left ? ` · ${left}` : ""}`,
                );
              }
            }
          },
        );
      } catch (err) {
        if (control.signal.aborted || !(err instanceof RemoteError)) throw err;
        log.warn("import stopped", { job: job.id, err });
        await backToPreview(
          total - cursor.i,
          already.size,
          `I had to stop following: ${explainRemote(err, host)} What's done stays done; start again to continue.`,
        );
        return;
      }

      const final = cursor;
      const replies: Reply[] = [say(reportText(final.counts))];
      if (final.failures.length > 0) {
        replies.push({
          kind: "file",
          name: "not-followed.csv",
          bytes: new TextEncoder().encode(notFollowedCsv(final.failures)),
          caption: ["The accounts I couldn't follow, and why."],
        });
      }
      await deps.engine.advance(job.user, (state) =>
        state.step === "importing" && state.jobId === job.id
          ? {
              state: {
                step: "import-done",
                ...journeyOf(state),
                target: state.target,
                report: final.counts,
              },
              replies,
            }
          : null,
      );
    },
  };
}

const processed = (c: ImportReport) =>
  c.followed + c.requested + c.already + c.notFound + c.refused + c.failed;

/** One follow; a rate limit that outlasts the HTTP layer's retries is waited out here, then tried again. */
async function followOnce(
  follow: () => Promise<FollowResult>,
  signal: AbortSignal,
  host: string,
): Promise<FollowResult | { kind: "failed"; reason: string }> {
  for (;;) {
    try {
      return await follow();
    } catch (err) {
      if (err instanceof RateLimitedError) {
        await sleep(Math.max(1000, err.resetAt.getTime() - Date.now()), undefined, { signal });
        continue;
      }
      // A token that stopped working stops the whole import; anything else fails this one account.
      if (err instanceof RejectedError && err.status === 401) throw err;
      if (err instanceof RemoteError) return { kind: "failed", reason: explainRemote(err, host) };
      throw err;
    }
  }
}

function record(
  c: ImportCursor,
  acct: string,
  r: FollowResult | { kind: "failed"; reason: string },
): ImportCursor {
  const counts = { ...c.counts };
  const failures = [...c.failures];
  switch (r.kind) {
    case "followed":
      counts.followed += 1;
      break;
    case "requested":
      counts.requested += 1;
      break;
    case "already":
      counts.already += 1;
      break;
    case "not-found":
      counts.notFound += 1;
      failures.push({ acct, result: "not found", reason: "the server couldn't find this account" });
      break;
    case "refused":
      counts.refused += 1;
      failures.push({ acct, result: "refused", reason: r.reason });
      break;
    case "failed":
      counts.failed += 1;
      failures.push({ acct, result: "failed", reason: r.reason });
      break;
  }
  return { ...c, counts, failures };
}
