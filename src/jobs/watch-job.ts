/**
 * The transfer watch: after the Move, the old account's public follower count
 * (and, unless hidden, its public followers list) is read without a token —
 * the old token stops working after a Move — and compared with the snapshot.
 * Often at first, less often later, within a request budget per host. When the
 * count reaches zero, stops changing for the settle period, or the cap is hit,
 * the user gets one message: who moved, who stayed and why, and the wrap-up.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { type Notifier, RecipientGoneError, type Reply, say } from "../chat/conversation.js";
import { n, type Text } from "../chat/text.js";
import { moveSupport } from "../clients/fediverse.js";
import { AccountSchema } from "../clients/mastodon.js";
import type { World } from "../clients/world.js";
import type { Engine } from "../engine/engine.js";
import { rubyCsvRow } from "../formats/ruby-csv.js";
import { log } from "../log.js";
import { snapshots } from "../model/snapshot.js";
import type { TransferResult } from "../model/state.js";
import type { WatchData } from "../model/watch-data.js";
import { RemoteError } from "../net/errors.js";
import { movingOf } from "../steps/lib/moving.js";
import type { Store } from "../store/store.js";
import { HostBudget } from "./host-budget.js";
import type { JobHandler, JobRecord } from "./runner.js";

export interface WatchOptions {
  pollEarlyMs: number;
  earlyForMs: number;
  pollLateMs: number;
  settleMs: number;
  capMs: number;
  budgetPerHour: number;
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
  forgetAfterMs: 30 * 24 * 3_600_000,
  listEveryPollUpTo: 800,
};

const MILESTONES = [50, 90];
const LIST_PAGES_AT_MOST = 250;
const REASONS_FOR_HOSTS = 20;

/** Followers still on the old account, from its public list; null when the list is hidden. */
async function remainingFollowers(
  world: World,
  origin: string,
  accountId: string,
): Promise<string[] | null> {
  const client = world.mastodon(origin, "");
  const accts: string[] = [];
  let next: string | undefined = `/api/v1/accounts/${accountId}/followers?limit=80`;
  for (let page = 0; next && page < LIST_PAGES_AT_MOST; page++) {
    const res: { items: z.infer<typeof Accounts>; next?: string } = await client.page(
      next,
      Accounts,
    );
    accts.push(...res.items.map((a) => a.acct));
    next = res.next;
  }
  return accts;
}
const Accounts = z.array(AccountSchema);

const hostOf = (acct: string) => acct.slice(acct.lastIndexOf("@") + 1).toLowerCase();

function byServer(accts: readonly string[], localDomain: string): [string, number][] {
  const counts = new Map<string, number>();
  for (const a of accts) {
    const host = a.includes("@") ? hostOf(a) : localDomain;
    counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  return [...counts.entries()].sort((x, y) => y[1] - x[1]);
}

export function watchJob(deps: {
  engine: Engine;
  world: World;
  store: Store;
  notifier: () => Notifier | undefined;
  options?: Partial<WatchOptions>;
  budget?: HostBudget;
}): JobHandler<WatchData> {
  const o = { ...DEFAULT_WATCH, ...deps.options };
  const budget = deps.budget ?? new HostBudget(o.budgetPerHour);

  return {
    kind: "watch",
    // A watch lasts days; one unexpected error must not leave the user waiting for a message forever.
    retryAfterErrorMs: o.pollLateMs,
    async run(job: JobRecord<WatchData>, control) {
      const data = job.data;
      if (data.done) return;
      const now = Date.now();
      const host = new URL(data.origin).host;
      // The budget is charged per request (the lookup here, list pages below). A poll put off
      // waits for room, spread over one poll interval so the put-off ones don't wake at once.
      if (!budget.tryTake(host))
        return { again: budget.nextAt(host) + Math.random() * o.pollLateMs };
      const domain = data.domain ?? host;
      const nextPoll = () =>
        now + (now - data.startedAt < o.earlyForMs ? o.pollEarlyMs : o.pollLateMs);

      let count: number;
      let accountId: string;
      try {
        const account = await deps.world.mastodon(data.origin, "").lookup(data.username);
        count = account.followers_count ?? 0;
        accountId = account.id;
      } catch (err) {
        if (!(err instanceof RemoteError)) throw err;
        log.warn("watch: old account not readable now", { job: job.id, err });
        return now - data.startedAt >= o.capMs
          ? this.finish(job, control, data, "cap")
          : { again: nextPoll() };
      }

      const snapshot = await snapshots(deps.store).get(job.user);
      const initial = data.initial ?? Math.max(snapshot?.followers.count ?? 0, count);
      const changed = data.last === undefined || data.last.count !== count;
      let next: WatchData = {
        ...data,
        initial,
        polls: data.polls + 1,
        first: data.first ?? { at: now, count },
        last: { at: now, count },
        lastChangeAt: changed ? now : (data.lastChangeAt ?? now),
      };

      // The list costs a request per 80 followers: read it again only when the count moved.
      const countMoved =
        data.last === undefined || data.last.count !== count || data.remaining === undefined;
      const pages = Math.ceil(count / 80) + 1;
      const listDue = count <= o.listEveryPollUpTo || data.polls % 6 === 0;
      if (!next.hidden && countMoved && listDue && budget.tryTake(host, pages)) {
        try {
          const accts = await remainingFollowers(deps.world, data.origin, accountId);
          if (accts && accts.length === 0 && count > 0) next = { ...next, hidden: true };
          else if (accts)
            next = {
              ...next,
              remaining: {
                total: accts.length,
                servers: byServer(accts, domain).slice(0, 10),
                at: now,
              },
            };
        } catch (err) {
          if (!(err instanceof RemoteError)) throw err;
        }
      }

      const moved = Math.max(0, initial - count);
      const pct = initial > 0 ? (moved / initial) * 100 : 100;
      // One message per poll at most: crossing 50% and 90% at once says 90%.
      const crossed = MILESTONES.filter((m) => pct >= m && !next.milestones.includes(m));
      const m = crossed.at(-1);
      if (m !== undefined && count > 0) {
        next = { ...next, milestones: [...next.milestones, ...crossed] };
        const state = await deps.engine.state(job.user);
        if (state?.step === "watching" && !state.quiet) {
          const text =
            m === 50 ? "Half of your followers have moved" : `${m}% of your followers have moved`;
          try {
            await deps.notifier()?.notify(job.user, [
              say([`${text}: ${n(moved)} of ${n(initial)}.`], {
                choices: [{ id: "quiet", label: "No more updates until it's over" }],
              }),
            ]);
          } catch (err) {
            if (err instanceof RecipientGoneError) return this.gone(job);
            throw err;
          }
        }
      }
      await control.save(next, { done: moved, total: initial });

      if (count === 0) return this.finish(job, control, next, "zero");
      if (now - (next.lastChangeAt ?? now) >= o.settleMs && next.polls >= 2)
        return this.finish(job, control, next, "settled");
      if (now - data.startedAt >= o.capMs) return this.finish(job, control, next, "cap");
      return { again: nextPoll() };
    },

    /** The user can't be reached any more: keep nothing. */
    async gone(job: JobRecord<WatchData>) {
      log.info("watch: user unreachable; forgetting", { job: job.id });
      await deps.engine.forgetData(job.user);
    },

    async finish(
      job: JobRecord<WatchData>,
      control: { save(d: WatchData): Promise<void> },
      data: WatchData,
      ended: TransferResult["ended"],
    ) {
      const initial = data.initial ?? 0;
      const count = data.last?.count ?? initial;
      const domain = data.domain ?? new URL(data.origin).host;
      let stayed: string[] | null = null;
      if (!data.hidden && count > 0) {
        // Once per watch, so it goes even over budget; it is still counted.
        budget.tryTake(new URL(data.origin).host, Math.ceil(count / 80) + 2);
        try {
          const account = await deps.world.mastodon(data.origin, "").lookup(data.username);
          stayed = await remainingFollowers(deps.world, data.origin, account.id);
        } catch {
          stayed = null;
        }
      }
      const result: TransferResult = {
        initial,
        moved: Math.max(0, initial - count),
        stayed: count,
        ended,
        at: Date.now(),
      };
      const replies = await finishedReplies(deps.world, result, stayed, domain, data.origin);
      try {
        const outcome = await deps.engine.advance(job.user, (state) => {
          if (state.step !== "watching" || state.watchJobId !== job.id) return null;
          const forgetAt = result.at + o.forgetAfterMs;
          const forgetJob = randomUUID();
          return {
            state: {
              step: "finished",
              ...movingOf(state),
              movedAt: state.movedAt,
              result,
              forgetAt,
              revoked: false,
            },
            replies,
            jobs: [{ kind: "forget-later", id: forgetJob, data: { at: forgetAt } }],
          };
        });
        void outcome;
      } catch (err) {
        if (err instanceof RecipientGoneError) {
          await this.gone(job);
        } else throw err;
      }
      await control.save({ ...data, done: true });
    },
  } as JobHandler<WatchData> & {
    gone(job: JobRecord<WatchData>): Promise<void>;
    finish(
      job: JobRecord<WatchData>,
      control: { save(d: WatchData): Promise<void> },
      data: WatchData,
      ended: TransferResult["ended"],
    ): Promise<void>;
  };
}

/** The one finished message: the numbers, who stayed by server with a likely reason, stayed.csv. */
async function finishedReplies(
  world: World,
  r: TransferResult,
  stayed: string[] | null,
  oldHost: string,
  oldOrigin: string,
): Promise<Reply[]> {
  const pct = r.initial > 0 ? Math.round((r.moved / r.initial) * 100) : 100;
  const text: Text[number][] = [
    `Your move is finished: ${n(r.moved)} of ${n(r.initial)} followers moved (${pct}%).`,
  ];
  const replies: Reply[] = [];
  if (r.stayed > 0 && stayed && stayed.length > 0) {
    const servers = byServer(stayed, oldHost);
    const reasons = await Promise.all(
      servers.slice(0, REASONS_FOR_HOSTS).map(([h]) => reasonFor(world, h, oldHost)),
    );
    text.push(`\n${n(r.stayed)} stayed behind:`);
    servers.slice(0, 8).forEach(([h, c], k) => {
      text.push(
        `\n• ${h}: ${n(c)} — ${reasons[k] ?? "still in progress, or they chose not to follow"}`,
      );
    });
    if (servers.length > 8)
      text.push(`\n• and ${n(servers.length - 8)} more servers (all in stayed.csv)`);
    const rows = stayed.map((a) => {
      const h = a.includes("@") ? hostOf(a) : oldHost;
      const i = servers.findIndex(([s]) => s === h);
      return rubyCsvRow([
        a.includes("@") ? a : `${a}@${oldHost}`,
        h,
        (i >= 0 && i < REASONS_FOR_HOSTS ? reasons[i] : undefined) ?? "still in progress",
      ]).trimEnd();
    });
    replies.push({
      kind: "file",
      name: "stayed.csv",
      bytes: new TextEncoder().encode(`Account address,Server,Likely reason\n${rows.join("\n")}\n`),
    });
  } else if (r.stayed > 0) {
    text.push(`\n${n(r.stayed)} stayed behind; your old server doesn't show who they are.`);
  }
  if (r.ended === "settled") text.push("\nThe count has stopped changing, so I'm calling it done.");
  if (r.ended === "cap") text.push("\nIt's been two weeks, so I've stopped watching.");
  return [
    say(text),
    ...replies,
    say(
      [
        `Last things: request your archive at ${oldOrigin}/settings/export (once every 7 days). I can revoke my access now, and I'll forget everything I kept in 30 days.`,
      ],
      {
        choices: [
          { id: "revoke", label: "Revoke my access" },
          { id: "/forget", label: "Forget now" },
          { id: "keep", label: "Keep my data" },
        ],
      },
    ),
  ];
}

async function reasonFor(world: World, host: string, oldHost: string): Promise<string> {
  if (host === oldHost) return "on your old server, which moves them itself; still in progress";
  try {
    const info = await world.fediverse.nodeinfo(host);
    const { support, note } = moveSupport(info.software.name, info.software.version);
    if (support === "yes")
      return `${info.software.name}: still in progress, or they chose not to follow`;
    return `${info.software.name}: ${note}`;
  } catch {
    return "server not answering";
  }
}
