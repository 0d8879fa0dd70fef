/**
 * The follow import as a durable job. Progress is saved item by item, and the
 * account being followed is written down before the request goes out: a process
 * killed mid-request finds it on restart and asks whether the follow landed
 * instead of following again. One account failing (or refused) never stops the
 * rest; a rate limit is waited out (the pacer holds the request) and reported with
 * its time; a token the server no longer takes stops this user's import, since
 * nothing else would work either. What happened is reported to the step; the job
 * words nothing itself.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { type FollowResult, type NewAccount, TokenRejectedError } from "../clients/new-account.js";
import type { World } from "../clients/world.js";
import { log } from "../log.js";
import { normalHandle } from "../model/handle.js";
import { type ImportFailure, JobData, type JobDataOf, type JobEvents } from "../model/jobs.js";
import { type FollowRow, ImportReport, importReport } from "../model/state.js";
import { RateLimitedError, RejectedError, RemoteError } from "../net/errors.js";
import { reportWaits } from "../net/pacer.js";
import { explainRemote } from "../steps/lib/explain.js";
import { newHost } from "../steps/lib/moving.js";
import type { Sealer } from "../store/seal.js";
import type { Store } from "../store/store.js";
import { snapshots } from "../store/user-data.js";
import type { JobHandler } from "./queue.js";

export const ImportCursor = z.object({
  /** The next row of the snapshot's follows. */
  i: z.number(),
  /**
   * The account whose follow request may have gone out when the process stopped, at row `i`
   * (cursors saved before follows went out side by side).
   */
  inflight: z.string().optional(),
  /**
   * Accounts of rows before `i` whose follow may have gone out and isn't recorded yet: as many
   * as the new account takes side by side (`NewAccount.lanes`).
   */
  inflights: z.array(z.string()).default([]),
  counts: ImportReport,
  failures: z.array(
    z.object({
      acct: z.string(),
      result: z.enum(["not found", "refused", "failed"]),
      reason: z.string(),
    }),
  ),
  /**
   * The rows' accounts (normalized) followed before the import began, fixed at its start so a
   * restart skips the same rows. (Cursors saved before held whom the account followed, by
   * the same names for every server but micro.blog's own users: read the same way.)
   */
  already: z.array(z.string()),
});
export type ImportCursor = z.infer<typeof ImportCursor>;

const PROGRESS_EVERY_MS = 3000;
/** Follows on their way at once, at most, whatever the account allows. */
const MAX_LANES = 32;

type Failed = { kind: "failed"; reason: string };

export function importJob(deps: {
  world: World;
  sealer: Sealer;
  store: Store;
}): JobHandler<
  JobDataOf<"import-follows">,
  ImportCursor,
  JobEvents["import-follows"],
  { done: number; total: number }
> {
  return {
    kind: "import-follows",
    data: JobData["import-follows"],
    cursor: ImportCursor,
    async run(job, control) {
      const { target } = job.data;
      const host = newHost(target);
      const account = deps.world.newAccount(target, deps.sealer.unseal(target.token));
      const rows = (await snapshots(deps.store).get(job.user))?.follows ?? [];

      let cursor: ImportCursor;
      try {
        cursor = job.cursor ?? {
          i: 0,
          inflights: [],
          counts: importReport(),
          failures: [],
          already: await followedRows(rows, account),
        };
      } catch (err) {
        if (control.signal.aborted || !(err instanceof RemoteError)) throw err;
        // Nothing was followed yet.
        await control.report({
          event: "stopped",
          left: rows.length,
          already: 0,
          started: false,
          error: err,
        });
        return undefined;
      }
      if (!job.cursor) await control.save(cursor);
      const already = new Set(cursor.already);
      const total = rows.filter((r) => !already.has(normalHandle(r.acct))).length;
      const startedAt = Date.now();
      const doneAtStart = cursor.i;
      let lastProgress = 0;

      const save = (c: ImportCursor) => control.save(c, { done: c.i, total: rows.length });
      try {
        await reportWaits(
          (until) => void control.report({ event: "waiting", until: until.getTime() }),
          async () => {
            cursor = { ...cursor, inflights: cursor.inflights ?? [] };
            // A cursor from before lanes: its follow in flight is that of row i.
            const legacy = cursor.inflight;
            if (legacy !== undefined && normalHandle(rows[cursor.i]?.acct ?? "") === legacy)
              cursor = {
                ...cursor,
                i: cursor.i + 1,
                inflight: undefined,
                inflights: [...cursor.inflights, legacy],
              };
            let saving: Promise<void> = Promise.resolve();
            // Saves one after another, each the cursor as it is when asked.
            const persist = () => {
              const c = cursor;
              saving = saving.then(() => save(c));
              return saving;
            };
            const one = async (row: FollowRow, acct: string, landed: boolean) => {
              let result: FollowResult | Failed;
              if (landed && (await account.isFollowing(acct))) {
                result = { kind: "followed" }; // it landed before the restart: don't send it twice
              } else {
                result = await followOnce(() => account.follow(row), control.signal, host);
              }
              const inflights = [...cursor.inflights];
              inflights.splice(inflights.indexOf(acct), 1);
              cursor = { ...record(cursor, acct, result), inflights };
              await persist();
              if (Date.now() - lastProgress > PROGRESS_EVERY_MS && cursor.i < rows.length) {
                lastProgress = Date.now();
                const done = processed(cursor.counts) - cursor.counts.already;
                const rate = (cursor.i - doneAtStart) / Math.max(1, Date.now() - startedAt);
                await control.report({
                  event: "progress",
                  done,
                  total,
                  etaMs: rate > 0 ? (total - done) / rate : null,
                });
              }
            };
            const running = new Set<Promise<void>>();
            let failure: { err: unknown } | undefined;
            const start = (work: Promise<void>) => {
              const lane: Promise<void> = work
                .catch((err: unknown) => {
                  failure ??= { err };
                })
                .finally(() => running.delete(lane));
              running.add(lane);
            };
            const rowOf = (acct: string) =>
              rows.find((r) => normalHandle(r.acct) === acct) ?? { ...rows[0]!, acct };
            for (const acct of cursor.inflights) start(one(rowOf(acct), acct, true));
            while (cursor.i < rows.length && !failure) {
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
              const lanes = Math.min(MAX_LANES, account.lanes?.() ?? 1);
              while (running.size >= lanes && !failure) await Promise.race(running);
              if (failure) break;
              // Written down before the request goes out: a restart asks whether it landed.
              cursor = { ...cursor, i: cursor.i + 1, inflights: [...cursor.inflights, acct] };
              await persist();
              start(one(row, acct, false));
            }
            await Promise.all(running);
            await saving;
            if (failure) throw failure.err;
          },
        );
      } catch (err) {
        if (control.signal.aborted || !(err instanceof RemoteError)) throw err;
        log.warn("import stopped", { job: job.id, err });
        await control.report({
          event: "stopped",
          left:
            rows.slice(cursor.i).filter((r) => !already.has(normalHandle(r.acct))).length +
            cursor.inflights.length,
          already: already.size,
          started: true,
          error: err,
        });
        return undefined;
      }
      await control.report({ event: "done", report: cursor.counts, failures: cursor.failures });
      return undefined;
    },
  };
}

/** The rows' accounts the new account follows already, normalized, each once. */
async function followedRows(
  rows: readonly { acct: string }[],
  account: NewAccount,
): Promise<string[]> {
  const followed = await account.following();
  return [...new Set(rows.map((r) => normalHandle(r.acct)).filter((a) => followed.has(a)))];
}

const processed = (c: ImportReport) =>
  c.followed + c.requested + c.already + c.notFound + c.refused + c.failed;

/** One follow; a rate limit that outlasts the HTTP layer's retries is waited out here, then tried again. */
async function followOnce(
  follow: () => Promise<FollowResult>,
  signal: AbortSignal,
  host: string,
): Promise<FollowResult | Failed> {
  for (;;) {
    try {
      return await follow();
    } catch (err) {
      if (err instanceof RateLimitedError) {
        await sleep(Math.max(1000, err.resetAt.getTime() - Date.now()), undefined, { signal });
        continue;
      }
      // A token that stopped working stops the whole import; anything else fails this one account.
      if (err instanceof TokenRejectedError) throw err;
      if (err instanceof RejectedError && err.status === 401) throw err;
      if (err instanceof RemoteError) return { kind: "failed", reason: explainRemote(err, host) };
      throw err;
    }
  }
}

function record(c: ImportCursor, acct: string, r: FollowResult | Failed): ImportCursor {
  const counts = { ...c.counts };
  const failures: ImportFailure[] = [...c.failures];
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
