/**
 * The transfer watch: after the Move, the old account's public follower count
 * (and, unless hidden, its public followers list) is read without a token —
 * the old token stops working after a Move — and compared with the snapshot.
 * A server whose API wants a user (DISALLOW_UNAUTHENTICATED_API_ACCESS) is
 * counted from its ActivityPub followers collection's `totalItems` instead,
 * signed where the bot can sign; when neither can be read, that is reported at
 * once, and a Mastodon-API new account is counted instead: what its own follower
 * count (read with its token) gained since the watch began. An end without any
 * count says so instead of claiming a percentage.
 * Often at first, less often later, within a request budget per host. Crossing
 * 50% and 90% is reported; when the count reaches zero, stops changing for the
 * settle period, or the cap is hit, the job gathers who stayed and what their
 * servers are, and reports the end once. The watching step words all of it.
 */
import { z } from "zod";
import { AccountSchema } from "../clients/mastodon.js";
import type { World } from "../clients/world.js";
import { log } from "../log.js";
import { domainOf, withDomain } from "../model/handle.js";
import {
  CountedProgress,
  JobData,
  type JobDataOf,
  type JobEvents,
  type WatchProgress,
} from "../model/jobs.js";
import type { TransferResult } from "../model/state.js";
import { RejectedError, RemoteError } from "../net/errors.js";
import { chargeRetries, OverBudgetError } from "../net/http.js";
import type { Sealer } from "../store/seal.js";
import type { Store } from "../store/store.js";
import { snapshots } from "../store/user-data.js";

import { FollowerServers } from "./follower-servers.js";
import { type Budget, hostBudget } from "./host-budget.js";
import type { JobControl, JobHandler } from "./queue.js";

export interface WatchOptions {
  pollEarlyMs: number;
  earlyForMs: number;
  pollLateMs: number;
  settleMs: number;
  capMs: number;
  budgetPerHour: number;
  /**
   * How long after the budget lets a request go it may still reach the server (the HTTP
   * timeout): the budget leaves room for it, so the server never counts more than the budget.
   */
  budgetReachMs: number;
  forgetAfterMs: number;
  /** A list longer than this is read only every few polls (it costs a request per 80). */
  listEveryPollUpTo: number;
}

export const DEFAULT_WATCH: WatchOptions = {
  pollEarlyMs: 5 * 60_000,
  earlyForMs: 2 * 3_600_000,
  pollLateMs: 3_600_000,
  settleMs: 48 * 3_600_000,
  capMs: 14 * 24 * 3_600_000,
  budgetPerHour: 600,
  budgetReachMs: 15_000,
  forgetAfterMs: 30 * 24 * 3_600_000,
  listEveryPollUpTo: 800,
};

/** What a watch keeps between polls: what /status shows, and what decides the next poll. */
export const WatchCursor = CountedProgress.partial().extend({
  polls: z.number(),
  lastChangeAt: z.number().optional(),
  milestones: z.array(z.number()),
  /** The end was reported (or nobody waits any more): nothing more to do. */
  done: z.boolean().optional(),
  /** That nothing could be read to count was reported. */
  unreadableReported: z.boolean().optional(),
  /**
   * The end was decided but the hour had no room for reading who stayed: the next run reads
   * them (the account's id saved with it, so no lookup again) and reports this end.
   */
  ending: z.enum(["zero", "settled", "cap"]).optional(),
  accountId: z.string().optional(),
  /** The new account's own follower count when the watch began (Mastodon-API targets). */
  newAtStart: z.number().optional(),
  /** Counting from the new side: what its follower count last was, and when it last changed. */
  newLast: z.object({ at: z.number(), count: z.number() }).optional(),
});
export type WatchCursor = z.infer<typeof WatchCursor>;

type Control = JobControl<WatchCursor, JobEvents["watch"], WatchProgress>;

const MILESTONES = [50, 90];
const LIST_PAGES_AT_MOST = 250;
const REASONS_FOR_HOSTS = 20;

/**
 * Since when the count has been what it is now. A change seen at this poll happened after
 * the poll before it: the quiet is counted from that poll, so the end comes within the settle
 * period and one poll interval of the last follower leaving (counted from the poll that saw
 * the change, it could take two). The end still waits for a poll that finds the count
 * unchanged, so a change is never called settled by the poll that saw it.
 */
function quietSince(
  changed: boolean,
  previousPoll: number | undefined,
  since: number | undefined,
  now: number,
): number {
  return changed ? (previousPoll ?? now) : (since ?? now);
}

/** Who stayed, by handle, and whether that is only the first pages of the list. */
interface Stayed {
  accts: string[];
  partial: boolean;
}

/** A refusal that only a user's token or a signature would get past, not a passing failure. */
function closedTo(err: unknown): err is RejectedError {
  return err instanceof RejectedError && (err.status === 401 || err.status === 403);
}

type Count =
  | { ok: true; count: number; accountId?: string }
  | { ok: false; api: string; activitypub: string };

/**
 * The old account's follower count: its public profile over the API, or, when the API wants a
 * user, its followers collection's `totalItems` (the figure Mastodon's own API copies for a
 * remote account). A passing failure (timeout, 5xx, unreachable) is thrown as it came.
 */
async function readCount(
  world: World,
  data: JobDataOf<"watch">,
  domain: string,
  take: () => boolean | Promise<boolean>,
): Promise<Count> {
  let api: string;
  try {
    const account = await world.mastodon(data.origin, "").lookup(data.username);
    const count = account.followers_count;
    // A profile without a count (or a fork's -1 for a hidden one) doesn't say: never take it for 0.
    if (count !== undefined && count >= 0) return { ok: true, count, accountId: account.id };
    api = `${domain} doesn't show the account's follower count`;
  } catch (err) {
    if (!closedTo(err)) throw err;
    api = err.message;
  }
  // WebFinger, the actor and its collection: taken from the budget before they go.
  if (!(await take())) throw new OverBudgetError(new URL(data.origin).host);
  let activitypub: string;
  try {
    const actor = await world.fediverse.actorOf(`${data.username}@${domain}`);
    const total = actor?.followers
      ? await world.fediverse.collectionTotal(actor.followers)
      : undefined;
    if (total !== undefined) return { ok: true, count: total };
    activitypub = `${domain} doesn't show how many follow the account`;
  } catch (err) {
    if (!closedTo(err)) throw err;
    activitypub = err.message;
  }
  return { ok: false, api, activitypub };
}

/**
 * Followers still on the old account, from its public list: its first `pages` pages, and
 * whether there were more.
 */
async function remainingFollowers(
  world: World,
  origin: string,
  accountId: string,
  pages: number,
): Promise<{ accts: string[]; more: boolean }> {
  const client = world.mastodon(origin, "");
  const accts: string[] = [];
  let next: string | undefined = `/api/v1/accounts/${accountId}/followers?limit=80`;
  for (let page = 0; next && page < pages; page++) {
    const res: { items: z.infer<typeof Accounts>; next?: string } = await client.page(
      next,
      Accounts,
    );
    accts.push(...res.items.map((a) => a.acct));
    next = res.next;
  }
  return { accts, more: next !== undefined };
}
const Accounts = z.array(AccountSchema);

function byServer(accts: readonly string[], localDomain: string): [string, number][] {
  const counts = new Map<string, number>();
  for (const a of accts) {
    const host = domainOf(a, localDomain);
    counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  return [...counts.entries()].sort((x, y) => y[1] - x[1]);
}

/**
 * The view /status draws: the old account's count once the first is in; when the old account
 * can't be read, the new one's growth (once counted) or that nothing can be counted.
 */
function progressOf(c: WatchCursor): WatchProgress | undefined {
  if (c.initial === undefined || !c.first || !c.last) {
    if (!c.unreadableReported) return undefined;
    return c.newLast && c.newAtStart !== undefined
      ? { from: "new", atStart: c.newAtStart, last: c.newLast }
      : { from: "uncounted" };
  }
  return {
    initial: c.initial,
    first: c.first,
    last: c.last,
    remaining: c.remaining,
    hidden: c.hidden,
  };
}

/** The new account's own follower count, where its API offers one and its token still works. */
async function newSideCount(
  world: World,
  sealer: Sealer | undefined,
  data: JobDataOf<"watch">,
): Promise<number | undefined> {
  if (!data.target || !sealer) return undefined;
  const account = world.newAccount(data.target, sealer.unseal(data.target.token));
  if (!account.followersCount) return undefined;
  try {
    return await account.followersCount();
  } catch (err) {
    if (err instanceof RemoteError) return undefined;
    throw err;
  }
}

export function watchJob(deps: {
  world: World;
  store: Store;
  sealer?: Sealer;
  options?: Partial<WatchOptions>;
  budget?: Budget;
  /** What the followers' servers run, shared by every watch in this process. */
  servers?: FollowerServers;
}): JobHandler<JobDataOf<"watch">, WatchCursor, JobEvents["watch"], WatchProgress> {
  const o = { ...DEFAULT_WATCH, ...deps.options };
  const budget = deps.budget ?? hostBudget(deps.store, o.budgetPerHour, o.budgetReachMs);
  const servers = deps.servers ?? new FollowerServers(deps.world);
  /** Requests to the host, each retry taken from its budget like the first: none goes over it. */
  const charged = <T>(host: string, fn: () => Promise<T>) =>
    chargeRetries(() => budget.tryTake(host), fn);
  const save = (control: Control, c: WatchCursor) => control.save(c, progressOf(c));
  /**
   * The count has settled: quiet for the settle period, by a poll that found it unchanged (never
   * the poll that saw the change), and not at the first poll.
   */
  const settled = (changed: boolean, c: WatchCursor, now: number) =>
    !changed && now - (c.lastChangeAt ?? now) >= o.settleMs && c.polls >= 2;
  /** A run put off for the budget: its place in line for `n` requests, taken now. */
  const later = async (host: string, n: number, key: string) => ({
    again: await budget.reserve(host, n, key),
  });
  /**
   * The requests a poll at `at` takes its place in line for: its lookup, and when it may well
   * be the poll that ends the watch, the list of who stayed too, so that the end doesn't queue
   * a second time (what the end doesn't use, the next polls do).
   */
  const placeFor = (c: WatchCursor, at: number) => {
    const count = c.last?.count ?? 0;
    const mayEnd =
      count > 0 && !c.hidden && at - (c.lastChangeAt ?? at) >= o.settleMs - o.pollLateMs;
    return 1 + (mayEnd ? listCost(count, false) : 0);
  };
  /** The whole list: a page per 80, and one more for the page that says there are no more. */
  const wholeList = (count: number) => Math.ceil(count / 80) + 1;
  /**
   * The pages read for the finished message: the whole list, or as much of it as one take
   * from the budget can hold beside the lookup (a longer list would wait for room forever).
   */
  const endPages = (count: number, lookup: boolean) =>
    Math.max(0, Math.min(wholeList(count), LIST_PAGES_AT_MOST, budget.most - (lookup ? 1 : 0)));
  /** Reading who stayed for the end: its pages, and the lookup when the account's id isn't known. */
  const listCost = (count: number, lookup: boolean) => endPages(count, lookup) + (lookup ? 1 : 0);

  /**
   * Who is still on the old account, for the finished message: its public list, read within
   * the hour's budget (the lookup too, when the account's id isn't known). "later" when the
   * hour has no room for it now; null when there is no list to read, or it couldn't be read.
   */
  async function whoStayed(
    key: string,
    data: JobDataOf<"watch">,
    cursor: WatchCursor,
    accountId: string | undefined,
  ): Promise<Stayed | null | "later"> {
    const count = cursor.last?.count ?? 0;
    if (!cursor.last || cursor.hidden || count === 0) return null;
    const host = new URL(data.origin).host;
    const domain = data.domain ?? host;
    const pages = endPages(count, !accountId);
    if (pages === 0) return null;
    if (!(await budget.tryTake(host, listCost(count, !accountId), key))) return "later";
    try {
      const id =
        accountId ??
        (await charged(host, () => deps.world.mastodon(data.origin, "").lookup(data.username))).id;
      const read = await charged(host, () =>
        remainingFollowers(deps.world, data.origin, id, pages),
      );
      return { accts: read.accts.map((a) => withDomain(a, domain)), partial: read.more };
    } catch (err) {
      if (err instanceof OverBudgetError) return "later";
      if (!(err instanceof RemoteError)) throw err;
      return null;
    }
  }

  /**
   * The end, decided: who stayed (the list this poll read, or read now within the budget),
   * then the one report. When the hour has no room for the list, the end is saved as decided
   * and reported at the next run that has it.
   */
  async function end(
    job: { id: string; user: string; data: JobDataOf<"watch"> },
    control: Control,
    cursor: WatchCursor,
    ended: "zero" | "settled" | "cap",
    read: { accountId?: string; stayed?: Stayed } = {},
  ): Promise<undefined | { again: number }> {
    const stayed = read.stayed ?? (await whoStayed(job.id, job.data, cursor, read.accountId));
    if (stayed === "later") {
      await save(control, {
        ...cursor,
        ending: ended,
        ...(read.accountId ? { accountId: read.accountId } : {}),
      });
      const cost = listCost(cursor.last?.count ?? 0, !read.accountId);
      return later(new URL(job.data.origin).host, cost, job.id);
    }
    return finish(job.user, job.data, control, cursor, ended, stayed);
  }

  /** The one report of the end, with what is known of the servers of those who stayed. */
  async function finish(
    user: string,
    data: JobDataOf<"watch">,
    control: Control,
    cursor: WatchCursor,
    ended: TransferResult["ended"],
    stayed: Stayed | null,
  ): Promise<undefined> {
    const counted = cursor.last !== undefined;
    const initial = cursor.initial ?? (await snapshots(deps.store).get(user))?.followers.count ?? 0;
    const count = cursor.last?.count ?? initial;
    const domain = data.domain ?? new URL(data.origin).host;
    const fromNew = !counted && cursor.newLast && cursor.newAtStart !== undefined;
    const result: TransferResult = fromNew
      ? {
          initial,
          moved: Math.max(0, cursor.newLast!.count - cursor.newAtStart!),
          stayed: 0,
          counted: true,
          from: "new",
          ended,
          at: Date.now(),
        }
      : {
          initial,
          moved: counted ? Math.max(0, initial - count) : 0,
          stayed: counted ? count : 0,
          counted,
          ended,
          at: Date.now(),
        };
    const hosts = stayed ? byServer(stayed.accts, domain) : [];
    const reasons = await Promise.all(
      hosts.slice(0, REASONS_FOR_HOSTS).map(([host]) => servers.reason(host, domain)),
    );
    await control.report({
      event: "finished",
      result,
      stayed: stayed?.accts ?? null,
      ...(stayed?.partial ? { partial: true } : {}),
      servers: hosts.map(([host, n], k) => ({
        host,
        count: n,
        reason: reasons[k] ?? { kind: "unknown" },
      })),
    });
    const { ending: _ending, accountId: _id, ...rest } = cursor;
    await save(control, { ...rest, done: true });
    return undefined;
  }

  return {
    kind: "watch",
    data: JobData.watch,
    cursor: WatchCursor,
    // A watch lasts days; one unexpected error must not leave the user waiting for a message forever.
    retryAfterErrorMs: o.pollLateMs,
    async run(job, control) {
      const data = job.data;
      const started: WatchCursor = job.cursor ?? { polls: 0, milestones: [] };
      if (started.done) return undefined;
      // Decided at a poll the hour had no room to read who stayed after: that, and the end.
      if (started.ending)
        return end(job, control, started, started.ending, { accountId: started.accountId });
      const now = Date.now();
      const host = new URL(data.origin).host;
      // The budget is taken per request (the lookup here, list pages and retries below). A poll
      // put off takes its place in line and runs when its request fits.
      if (!(await budget.tryTake(host, 1, job.id)))
        return later(host, placeFor(started, now), job.id);
      const domain = data.domain ?? host;
      // Taken when the watch starts: the new side's growth from here is what moved, should the
      // old side never be readable. Asked again next poll if the new server didn't answer.
      let cursor: WatchCursor = started;
      if (cursor.newAtStart === undefined) {
        const at = await newSideCount(deps.world, deps.sealer, data);
        if (at !== undefined) cursor = { ...cursor, newAtStart: at };
      }
      // The next poll takes its place in line now: when the hour has room it is due at its
      // time, and when the watches on this server want more than the hour holds, it queues
      // behind those that asked before it, instead of waking at its time only to queue then.
      const nextPoll = async (c: WatchCursor) => {
        const at = now + (now - data.startedAt < o.earlyForMs ? o.pollEarlyMs : o.pollLateMs);
        return { again: await budget.reserve(host, placeFor(c, at), job.id, at) };
      };

      let read: Count;
      try {
        // The lookup took its token above; retries take theirs as they go, and the reads past
        // a closed API (WebFinger, the actor, its collection) theirs before they go.
        read = await charged(host, () =>
          readCount(deps.world, data, domain, () => budget.tryTake(host, 3)),
        );
      } catch (err) {
        if (err instanceof OverBudgetError) return later(host, 1, job.id);
        if (!(err instanceof RemoteError)) throw err;
        log.warn("watch: old account not readable now", { job: job.id, err });
        return now - data.startedAt >= o.capMs
          ? end(job, control, cursor, "cap")
          : nextPoll(cursor);
      }
      if (!read.ok) {
        // Nothing more is reported until the end, two weeks on: a user who finished without a
        // count (the watching step ends the wait itself) stops the polling here.
        if (cursor.unreadableReported && !(await control.wanted())) {
          await save(control, { ...cursor, done: true });
          return undefined;
        }
        const newCount =
          cursor.newAtStart === undefined
            ? undefined
            : await newSideCount(deps.world, deps.sealer, data);
        if (!cursor.unreadableReported) {
          const ack = await control.report({
            event: "unreadable",
            api: read.api,
            activitypub: read.activitypub,
            signs: deps.world.fediverse.signs,
            newSide: newCount !== undefined,
          });
          if (ack === "stale") {
            await save(control, { ...cursor, done: true });
            return undefined;
          }
        }
        let reported: WatchCursor = { ...cursor, unreadableReported: true };
        let newChanged = true;
        if (newCount !== undefined) {
          newChanged = reported.newLast?.count !== newCount;
          reported = {
            ...reported,
            polls: reported.polls + 1,
            newLast: { at: now, count: newCount },
            lastChangeAt: quietSince(newChanged, reported.newLast?.at, reported.lastChangeAt, now),
          };
        }
        await save(control, reported);
        if (reported.newLast && settled(newChanged, reported, now))
          return end(job, control, reported, "settled");
        return now - data.startedAt >= o.capMs
          ? end(job, control, reported, "cap")
          : nextPoll(reported);
      }
      const { count, accountId } = read;

      const initial =
        cursor.initial ??
        Math.max((await snapshots(deps.store).get(job.user))?.followers.count ?? 0, count);
      const changed = cursor.last === undefined || cursor.last.count !== count;
      let next: WatchCursor = {
        ...cursor,
        initial,
        polls: cursor.polls + 1,
        first: cursor.first ?? { at: now, count },
        last: { at: now, count },
        lastChangeAt: quietSince(changed, cursor.last?.at, cursor.lastChangeAt, now),
      };

      // The list costs a request per 80 followers: read it again only when the count moved.
      const countMoved = changed || cursor.remaining === undefined;
      // Read at a poll only whole: /status shows its total.
      const pages = wholeList(count);
      const listDue = count <= o.listEveryPollUpTo || cursor.polls % 6 === 0;
      let stayed: Stayed | undefined;
      if (
        accountId &&
        !next.hidden &&
        countMoved &&
        listDue &&
        pages <= Math.min(budget.most, LIST_PAGES_AT_MOST) &&
        (await budget.tryTake(host, pages, job.id))
      ) {
        try {
          const { accts } = await charged(host, () =>
            remainingFollowers(deps.world, data.origin, accountId, pages),
          );
          if (accts.length === 0 && count > 0) next = { ...next, hidden: true };
          else {
            stayed = { accts: accts.map((a) => withDomain(a, domain)), partial: false };
            next = {
              ...next,
              remaining: {
                total: accts.length,
                servers: byServer(accts, domain).slice(0, 10),
                at: now,
              },
            };
          }
        } catch (err) {
          if (!(err instanceof RemoteError) && !(err instanceof OverBudgetError)) throw err;
        }
      }

      const moved = Math.max(0, initial - count);
      const percent = initial > 0 ? (moved / initial) * 100 : 100;
      // One report per poll at most: crossing 50% and 90% at once reports 90%.
      const crossed = MILESTONES.filter((m) => percent >= m && !next.milestones.includes(m));
      const m = crossed.at(-1);
      if (m !== undefined && count > 0) {
        next = { ...next, milestones: [...next.milestones, ...crossed] };
        const ack = await control.report({ event: "milestone", percent: m, moved, initial });
        if (ack === "stale") {
          // Nobody waits for this watch any more (the user forgot, or can't be reached).
          await save(control, { ...next, done: true });
          return undefined;
        }
      }
      await save(control, next);

      // The end reads who stayed: the list this poll read, or read now within the budget.
      const known = { accountId, ...(stayed ? { stayed } : {}) };
      if (count === 0) return end(job, control, next, "zero", known);
      if (settled(changed, next, now)) return end(job, control, next, "settled", known);
      if (now - data.startedAt >= o.capMs) return end(job, control, next, "cap", known);
      return nextPoll(next);
    },
  };
}
