/**
 * The follow import as a durable job. Progress is saved item by item, and the
 * account being followed is written down before the request goes out: a process
 * killed mid-request leaves it marked, and the run that resumes takes it as a
 * follow whose answer was lost (asked about after a pause, followed again only if
 * it didn't land), since the dead process's request may still be queued at the
 * server and land seconds later. One account failing (or refused) never stops the
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
import {
  ForbiddenAddressError,
  RateLimitedError,
  RejectedError,
  RemoteError,
} from "../net/errors.js";
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
   * as the new account takes side by side (`NewAccount.lanes`). A run that finds any was
   * stopped mid-follow: each becomes a retry, due after the first pause.
   */
  inflights: z.array(z.string()).default([]),
  /**
   * Accounts whose follow failed for a passing reason (the answer lost, a 5xx, a timeout): each
   * is asked about again once `due`, and followed again only if it didn't land. `tries`:
   * the follows and checks made so far; `reason` what the last one said. `sending`: its follow
   * is going out again (saved first, counted as the next try): a run that finds it so was
   * stopped mid-follow, and waits the pause from its own start before asking.
   */
  retries: z
    .array(
      z.object({
        acct: z.string(),
        tries: z.number(),
        due: z.number(),
        reason: z.string(),
        sending: z.boolean().optional(),
      }),
    )
    .default([]),
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

/**
 * The first wait before an account whose follow failed for a passing reason is asked about
 * again, doubled at each later try. A follow given up on can still reach the server after the
 * client stopped waiting (queued in a proxy, or behind a busy server's accept): asked too
 * soon, the server says "not following" and a second follow goes out. The wait makes that
 * unlikely, not impossible; nothing a client can do rules it out.
 */
export const RETRY_FIRST_MS = 5000;
/** Follows and checks of one account in all before it is reported as failed. */
export const RETRY_TRIES = 5;

type Failed = { kind: "failed"; reason: string };
/** A passing failure: the follow may or may not have landed; ask again later. */
type Uncertain = { kind: "uncertain"; reason: string };
type Retry = ImportCursor["retries"][number];

/** The reason kept for a follow that was on its way when the run stopped. */
export const STOPPED_MID_FOLLOW = "I stopped while this follow was on its way.";

export function importJob(deps: {
  world: World;
  sealer: Sealer;
  store: Store;
  /** Default RETRY_FIRST_MS. */
  retryFirstMs?: number;
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
          retries: [],
          counts: importReport(),
          failures: [],
          already: await patiently(() => followedRows(rows, account), control.signal),
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
            cursor = {
              ...cursor,
              inflights: cursor.inflights ?? [],
              retries: cursor.retries ?? [],
            };
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
            const rowOf = (acct: string) =>
              rows.find((r) => normalHandle(r.acct) === acct) ?? { ...rows[0]!, acct };
            const reportProgress = async () => {
              if (
                Date.now() - lastProgress > PROGRESS_EVERY_MS &&
                (cursor.i < rows.length || cursor.retries.length > 0)
              ) {
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
            /** To be asked about after the pause for `tries` follows and checks made so far. */
            const putOff = (acct: string, tries: number, reason: string): Retry => ({
              acct,
              tries,
              due: Date.now() + (deps.retryFirstMs ?? RETRY_FIRST_MS) * 2 ** (tries - 1),
              reason,
            });
            /** What a follow (or a check) came to: recorded, or put off to be asked about again. */
            const settle = (
              acct: string,
              result: FollowResult | Failed | Uncertain,
              tries: number,
            ) => {
              if (result.kind !== "uncertain") return record(cursor, acct, result);
              if (tries >= RETRY_TRIES)
                return record(cursor, acct, { kind: "failed", reason: result.reason });
              return {
                ...cursor,
                retries: [...cursor.retries, putOff(acct, tries, result.reason)],
              };
            };
            // Follows on their way when the last run stopped (killed, or its lease lost): the
            // server may not have handled them yet, so "not following" now would be believed
            // too soon; each is asked about after the pause, like a follow whose answer was lost.
            cursor = {
              ...cursor,
              inflights: [],
              retries: [
                ...cursor.retries.map((r) => (r.sending ? putOff(r.acct, r.tries, r.reason) : r)),
                ...cursor.inflights.map((acct) => putOff(acct, 1, STOPPED_MID_FOLLOW)),
              ],
            };
            const one = async (row: FollowRow, acct: string) => {
              const result = await followOnce(() => account.follow(row), control.signal, host);
              const inflights = [...cursor.inflights];
              inflights.splice(inflights.indexOf(acct), 1);
              cursor = { ...settle(acct, result, 1), inflights };
              await persist();
              await reportProgress();
            };
            /**
             * An account whose follow failed for a passing reason, once due: asked whether the
             * follow landed after all, and followed again only when it didn't.
             */
            const again = async (retry: Retry) => {
              let result: FollowResult | Failed | Uncertain | undefined;
              try {
                if (await account.isFollowing(retry.acct)) result = { kind: "followed" };
              } catch (err) {
                result = passing(err, host);
              }
              if (!result) {
                // Written down before the follow goes out again, as its next try: a run that
                // resumes after a stop meanwhile waits before asking about it.
                const next = {
                  ...putOff(retry.acct, retry.tries + 1, retry.reason),
                  sending: true,
                };
                cursor = { ...cursor, retries: [...cursor.retries, next] };
                await persist();
                cursor = { ...cursor, retries: cursor.retries.filter((r) => r !== next) };
                const row = rowOf(retry.acct);
                result = await followOnce(() => account.follow(row), control.signal, host);
              }
              cursor = settle(retry.acct, result, retry.tries + 1);
              await persist();
              await reportProgress();
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
              start(one(row, acct));
            }
            await Promise.all(running);
            // Then the accounts put off, each once due, soonest first, one at a time.
            while (cursor.retries.length > 0 && !failure) {
              const next = cursor.retries.reduce((a, b) => (b.due < a.due ? b : a));
              const wait = next.due - Date.now();
              if (wait > 0) await sleep(wait, undefined, { signal: control.signal });
              cursor = { ...cursor, retries: cursor.retries.filter((r) => r !== next) };
              await again(next).catch((err: unknown) => {
                failure ??= { err };
              });
            }
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
            cursor.inflights.length +
            cursor.retries.length,
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

/** The first wait before a read the import can't start without is asked again. */
const READ_RETRY_MS = 1000;

/**
 * A read the import can't start without, asked again after a passing failure (a timeout, a
 * 5xx, an answer cut short), waiting longer each time; a refusal, or the last failure, is thrown.
 */
async function patiently<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await read();
    } catch (err) {
      if (tries >= RETRY_TRIES || !(err instanceof RemoteError) || err instanceof RejectedError)
        throw err;
      await sleep(READ_RETRY_MS * 2 ** (tries - 1), undefined, { signal });
    }
  }
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

/**
 * One follow; a rate limit that outlasts the HTTP layer's retries is waited out here, then
 * tried again. A server's refusal of this account is its answer; a failure that may pass (the
 * answer lost, a 5xx, a timeout) is `uncertain`: the follow may have landed, so the caller asks
 * before sending it again.
 */
async function followOnce(
  follow: () => Promise<FollowResult>,
  signal: AbortSignal,
  host: string,
): Promise<FollowResult | Failed | Uncertain> {
  for (;;) {
    try {
      return await follow();
    } catch (err) {
      if (err instanceof RateLimitedError) {
        await sleep(Math.max(1000, err.resetAt.getTime() - Date.now()), undefined, { signal });
        continue;
      }
      return passing(err, host);
    }
  }
}

/**
 * A follow's or a check's error as the import takes it: a token that stopped working stops the
 * whole import (thrown); a refusal (4xx) fails this one account; anything else may pass.
 */
function passing(err: unknown, host: string): Failed | Uncertain {
  if (err instanceof TokenRejectedError) throw err;
  if (err instanceof RejectedError && err.status === 401) throw err;
  if (err instanceof RateLimitedError)
    return { kind: "uncertain", reason: explainRemote(err, host) };
  if (err instanceof RejectedError || err instanceof ForbiddenAddressError)
    return { kind: "failed", reason: explainRemote(err, host) };
  if (err instanceof RemoteError) return { kind: "uncertain", reason: explainRemote(err, host) };
  throw err;
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
