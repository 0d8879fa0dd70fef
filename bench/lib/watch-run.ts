/**
 * Many transfer watches in one process, through fedimove's real job runner and watch job
 * (registerJobs, compressed intervals), SQLite store, engine and World (GuardedDispatcher,
 * Pacer and Http with the production defaults), against Mastodon stand-ins in this process
 * playing the old servers: each account has moved, and its followers leave one by one, some
 * staying behind on a server that never processes the Move.
 *
 * What happened comes back as typed arrays allocated before the baseline memory figure: the
 * stand-ins' request logs (drained every 100 ms, so they don't grow in the heap), the
 * budget's grants, when each account's count settled and when its finished message went out.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import type { Reply, UserKey } from "../../src/chat/conversation.js";
import { plain } from "../../src/chat/text.js";
import type { World } from "../../src/clients/world.js";
import { createCore } from "../../src/core.js";
import { WATCH_RUNS } from "../../src/jobs/registry.js";
import type { JobRecord } from "../../src/jobs/runner.js";
import { type WatchCursor, type WatchOptions, watchJob } from "../../src/jobs/watch-job.js";
import type { WatchRequest } from "../../src/model/jobs.js";
import { emptySnapshot } from "../../src/model/snapshot.js";
import { STATE_VERSION, type State } from "../../src/model/state.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";
import { snapshots } from "../../src/store/user-data.js";
import { type Memory, settledMemory } from "./measure.js";
import { ScaledBudget, TimeLog } from "./watch-budget.js";
import { countingStore, type StoreCounts } from "./watch-store.js";

/** What the move step starts a watch with. */
const watchRequest = (s: MastodonSandbox, username: string, at: number): WatchRequest => ({
  origin: s.url,
  username,
  domain: s.domain,
  startedAt: at,
});

/** The production default (HTTP_TIMEOUT_MS). */
const HTTP_TIMEOUT_MS = 15_000;
const MOVER_DOMAINS = ["a.example", "b.example", "c.example", "d.example", "e.example"];
/** The followers' server that never processes the Move (it answers NodeInfo). */
const STRAGGLER_DOMAIN = "quiet.example";
const NEW_DOMAIN = "new.example";
const DRAIN_EVERY_MS = 100;

export interface WatchRunOptions {
  hosts: number;
  perHost: number;
  /** Followers per account who move, one per tick. */
  movers: number;
  /** Every other account also has this many followers who never move. */
  stragglers: number;
  /** Wall ms between two followers leaving: min + (k·7919 mod spread), per account k. */
  tickMs: { min: number; spread: number };
  watch: WatchOptions;
  /** How long the budget's hour lasts in wall time. */
  hourMs: number;
  /** Accounts on a separate stand-in, watched to their end before the baseline (warm code, open pools). */
  warmup: number;
  /** From the baseline to the first polls (the Moves): time to start the jobs and weigh them. */
  leadMs: number;
  /** Stop waiting for finished messages after this long from the start. */
  timeoutMs: number;
  /** After the last finished message, keep running this long to catch a second one. */
  lingerMs: number;
}

export interface HostFigures {
  domain: string;
  host: string;
  watches: number;
  /** Arrival times of the requests the stand-in got from the watcher. */
  requests: TimeLog;
  grants: TimeLog;
  /** Every request the budget let go (list pages it granted but the list didn't need too). */
  taken: TimeLog;
  lookups: number;
  followerPages: number;
  other: number;
  notOk: number;
}

export interface WatchRun {
  watches: number;
  /** Wall ms that jobs.resumeAll() took to find every watch and set its timer. */
  startingMs: number;
  /** Watches resumeAll() ran at once instead of waiting (none, when the lead was long enough). */
  resumed: number;
  /** Mean wall ms of one jobs.start() with every watch stored (the warm-up users'). */
  startMs: number;
  baseline: Memory;
  loaded: Memory;
  /** Whether the loaded figure was taken with every watch waiting and no request in between. */
  quiet: boolean;
  /** Timers the runner held then (watches plus the warm-up users' forget-later jobs). */
  waitingAtMeasure: number;
  expectedWaiting: number;
  hosts: HostFigures[];
  deniedRuns: number;
  /** Per account k: when the count stopped changing, when the first finished message went out. */
  settleAt: Float64Array;
  finishedAt: Float64Array;
  finishes: Uint8Array;
  hasStragglers: Uint8Array;
  /** Per account k: the watch's last request to the old server before its finished message. */
  lastPollAt: Float64Array;
  /**
   * Per account k: the longest wait between two of its polls from the one before the count
   * settled to the end: the poll interval the budget let this watch have when it mattered.
   */
  endGap: Float64Array;
  /** At the end: users whose saved state is "finished" but who got no message, or still "watching". */
  finishedSilently: number;
  stillWatching: number;
  /** At the end: the watch jobs' records by status ("running" with nothing waiting is orphaned). */
  jobStatus: Record<string, number>;
  /** Finished messages whose numbers were not the ones the stand-in implies. */
  wrongNumbers: number;
  milestones: number;
  /** Wall ms between two polls of one watch (two lookups of one account, >100 ms apart). */
  pollGaps: TimeLog;
  /** From the first polls (go) to the last finished message, and to the end of the run. */
  lastFinishMs: number;
  wallMs: number;
  /** The event loop from go to the end: share of time busy, and how late timers ran (ms). */
  loopBusy: number;
  loopLag: { p50: number; p99: number; max: number };
  store: StoreCounts;
  /** The old servers' lookups and list pages that failed after Http's retries, by error class. */
  failures: Record<string, number>;
  /** Store calls from the first polls to the end of the run, and the wall ms any was in flight. */
  storeRun: { calls: number; busyMs: number };
  tornDown: boolean;
}

const userOf = (k: number): UserKey => `tg:${k}`;
const FINISHED = /^Your move is finished: (\d+) of (\d+) followers moved/;

export async function runWatches(o: WatchRunOptions): Promise<WatchRun> {
  const N = o.hosts * o.perHost;

  // ---- the stand-ins ---------------------------------------------------------------------
  const quiet = await startMastodonSandbox({ domain: STRAGGLER_DOMAIN, rateLimit: null });
  const warm = await startMastodonSandbox({
    domain: "warm.example",
    rateLimit: null,
    originOf: () => null,
  });
  const olds: MastodonSandbox[] = [];
  for (let h = 0; h < o.hosts; h++)
    olds.push(
      await startMastodonSandbox({
        domain: `old${h + 1}.example`,
        rateLimit: null,
        originOf: () => null,
      }),
    );
  // Each stand-in by its domain, and by its loopback host, which its own links name (the
  // NodeInfo index points at http://127.0.0.1:PORT/nodeinfo/2.0).
  const origins: Record<string, string> = {};
  for (const s of [quiet, warm, ...olds]) {
    origins[s.domain] = s.url;
    origins[new URL(s.url).host] = s.url;
  }

  // Every account on a stand-in has the same few followers (one a server): seeding stays
  // linear, and the stand-in's Move, which looks remote accounts up one by one, stays quick.
  const seed = (s: MastodonSandbox, username: string, stragglers: number) => {
    s.addAccount({ username });
    for (let i = 0; i < o.movers; i++)
      s.follow(`fan${i}@${MOVER_DOMAINS[i % MOVER_DOMAINS.length]}`, username);
    for (let i = 0; i < stragglers; i++) s.follow(`quiet${i}@${STRAGGLER_DOMAIN}`, username);
    s.addResolvable(`${username}@${NEW_DOMAIN}`, { alsoKnownAs: [s.actorUri(username)] });
  };
  const hasStragglers = new Uint8Array(N);
  for (let k = 0; k < N; k++) {
    hasStragglers[k] = k % 2;
    seed(olds[k % o.hosts]!, `u${k}`, hasStragglers[k] ? o.stragglers : 0);
  }
  for (let j = 0; j < o.warmup; j++) seed(warm, `w${j}`, 0);

  // ---- fedimove as src/app.ts wires it, minus the channel --------------------------------
  const dir = mkdtempSync(join(tmpdir(), "fedimove-bench-watch-"));
  const counted = countingStore(
    await openStore(`sqlite:${dir}/bench.sqlite`),
    ["jobs", "sets:jobs", "users", "snapshots"],
    ["job:…", "user:…"],
  );
  const store = counted.store;
  const sealer = new Sealer(randomBytes(32));
  // The old server's client as the watch job gets it, counting the calls that failed after
  // Http's own retries (by error class): a saturated process shows up as timeouts here.
  const failures: Record<string, number> = {};
  const countFailures = (real: World): World => ({
    ...real,
    mastodon(origin, token) {
      const client = real.mastodon(origin, token);
      return new Proxy(client, {
        get(target, prop) {
          const value = Reflect.get(target, prop);
          if (typeof value !== "function") return value;
          if (prop !== "lookup" && prop !== "page") return value.bind(target);
          return async (...args: unknown[]) => {
            try {
              return await value.apply(target, args);
            } catch (err) {
              let name = err instanceof Error ? err.name : "other";
              // The innermost cause with a code or a name of its own says what really happened.
              for (let e: unknown = err, i = 0; e instanceof Error && i < 6; i++) {
                const code = (e as { code?: unknown }).code;
                if (typeof code === "string")
                  name = `${err instanceof Error ? err.name : ""} (${code})`;
                else if (e !== err && e.name !== "Error")
                  name = `${err instanceof Error ? err.name : ""} (${e.name})`;
                e = e.cause;
              }
              failures[name] = (failures[name] ?? 0) + 1;
              throw err;
            }
          };
        },
      });
    },
  });
  const hostOf = (s: MastodonSandbox) => new URL(s.url).host;
  const capacity = 400_000;
  const budget = new ScaledBudget(
    o.watch.budgetPerHour,
    o.hourMs,
    olds.map(hostOf),
    capacity,
    o.watch.budgetReachMs,
  );
  const core = createCore({
    store,
    sealer,
    network: {
      allowPrivateNetwork: true,
      timeoutMs: HTTP_TIMEOUT_MS,
      originOf: (host) => origins[host] ?? "http://127.0.0.1:9",
    },
    world: countFailures,
    watch: o.watch,
    // The watch job given the budget on the compressed clock; its other options as configured.
    // As registerJobs has it, runs at once included: without that limit, thousands of runs
    // due together queue their requests behind the connections past their timeout, and the
    // old servers get them in bursts long after the budget granted them.
    handlers: (_, deps) => ({
      watch: {
        ...watchJob({ ...deps, options: o.watch, budget }),
        kind: "watch",
        concurrency: WATCH_RUNS,
      },
    }),
  });
  const { engine, jobs } = core;

  // ---- what the bench records, allocated before the baseline -----------------------------
  const settleAt = new Float64Array(N);
  const finishedAt = new Float64Array(N);
  const finishes = new Uint8Array(N);
  const lastLookup = new Float64Array(N);
  const lastPollAt = new Float64Array(N);
  const endGap = new Float64Array(N);
  const pollGaps = new TimeLog(capacity);
  let finishedUsers = 0;
  let wrongNumbers = 0;
  let milestones = 0;
  const expected = (k: number) => ({
    moved: o.movers,
    initial: o.movers + (hasStragglers[k] ? o.stragglers : 0),
  });
  const figures: HostFigures[] = olds.map((s) => ({
    domain: s.domain,
    host: hostOf(s),
    watches: o.perHost,
    requests: new TimeLog(capacity),
    grants: budget.grantsOf(hostOf(s)),
    taken: budget.takenOf(hostOf(s)),
    lookups: 0,
    followerPages: 0,
    other: 0,
    notOk: 0,
  }));

  engine.notifier = {
    async notify(user: UserKey, replies: readonly Reply[]) {
      const at = Date.now();
      const k = Number(user.slice(3));
      if (!Number.isInteger(k)) return; // a warm-up user
      for (const r of replies) {
        if (r.kind !== "say") continue;
        const text = plain(r.text);
        const m = FINISHED.exec(text);
        if (!m) {
          if (/followers have moved/.test(text)) milestones += 1;
          continue;
        }
        if (finishes[k] === 0) {
          finishedAt[k] = at;
          drain();
          lastPollAt[k] = lastLookup[k]!;
          finishedUsers += 1;
        }
        finishes[k] = Math.min(255, finishes[k]! + 1);
        const e = expected(k);
        if (Number(m[1]) !== e.moved || Number(m[2]) !== e.initial) wrongNumbers += 1;
      }
    },
  };

  const LOOKUP = /\/api\/v1\/accounts\/lookup\?acct=u(\d+)/;
  const drain = () => {
    olds.forEach((s, h) => {
      const f = figures[h]!;
      for (const e of s.requests) {
        f.requests.add(e.time);
        if (e.status !== 200 && e.status !== 0) f.notOk += 1;
        const lookup = LOOKUP.exec(e.path);
        if (lookup) {
          f.lookups += 1;
          const k = Number(lookup[1]);
          if (lastLookup[k]! > 0 && e.time - lastLookup[k]! > 100) {
            const gap = e.time - lastLookup[k]!;
            pollGaps.add(gap);
            if (e.time >= settleAt[k]! && finishes[k] === 0) endGap[k] = Math.max(endGap[k]!, gap);
          }
          lastLookup[k] = e.time;
        } else if (/\/followers\?/.test(e.path)) f.followerPages += 1;
        else f.other += 1;
      }
      s.resetLog();
    });
    warm.resetLog();
    quiet.resetLog();
  };

  /** The user as the move step leaves them: watching, with a snapshot that counted the followers. */
  const placeWatching = async (
    s: MastodonSandbox,
    user: UserKey,
    username: string,
    followers: number,
    id: string,
    now: number,
  ): Promise<void> => {
    await snapshots(store).set(user, {
      ...emptySnapshot(now),
      followers: { accts: [], count: followers, hidden: false },
    });
    const state = {
      step: "watching",
      source: {
        kind: "file",
        instance: { origin: s.url, host: s.domain, domain: s.domain, version: "4.3.2" },
        name: "following_accounts.csv",
      },
      follows: 0,
      snapshotAt: now,
      target: {
        kind: "microblog",
        domain: NEW_DOMAIN,
        username,
        handle: `${username}@${NEW_DOMAIN}`,
        token: sealer.seal("bench"),
      },
      oldHandle: `${username}@${s.domain}`,
      movedAt: now,
      watchJobId: id,
      quiet: false,
    } satisfies State;
    await store
      .namespace("users")
      .set(user, { v: STATE_VERSION, seq: 1, state, history: [], updatedAt: now });
  };

  /** The Move is submitted at `now`; followers leave one per tick from then on. */
  const move = (
    s: MastodonSandbox,
    username: string,
    tickMs: number,
    stragglers: boolean,
    now: number,
  ) =>
    s.performMove(username, `${username}@${NEW_DOMAIN}`, {
      at: now,
      transfer: { perTick: 1, tickMs, stragglers: stragglers ? [STRAGGLER_DOMAIN] : [] },
    });

  // ---- every user watching; the watch jobs' records and their places in the jobs' sets
  // (the user's jobs, the due ones) as jobs.start leaves them -------------------------------
  const now0 = Date.now();
  const jobSets = store.scored("jobs");
  const records = {
    set: async (id: string, record: JobRecord) => {
      await jobSets.put(`user:${record.user}`, id, now0);
      await store.namespace("jobs").set(id, record);
      await jobSets.put("due", id, record.dueAt ?? now0);
    },
    get: (id: string) => jobs.get(id),
  };
  const ids: string[] = [];
  for (let k = 0; k < N; k++) {
    const id = randomUUID();
    await placeWatching(olds[k % o.hosts]!, userOf(k), `u${k}`, expected(k).initial, id, now0);
    ids.push(id);
  }

  // ---- warm-up: watches whose followers have all left by the first poll, started with
  // jobs.start, timed (the watches' records already stored) --------------------------------
  let startMs = 0;
  for (let j = 0; j < o.warmup; j++) {
    const id = randomUUID();
    const user: UserKey = `tg:w${j}`;
    const now = Date.now();
    await move(warm, `w${j}`, 1, false, now);
    await placeWatching(warm, user, `w${j}`, o.movers, id, now);
    const t = performance.now();
    await jobs.start(user, { kind: "watch", id, data: watchRequest(warm, `w${j}`, now) });
    startMs += performance.now() - t;
  }
  await jobs.idle();

  // ---- the watches' records: each waits for its first poll at go + a jitter over the first
  // poll interval, as watches started at different moments would; the Moves start at go ---
  const go = Date.now() + o.leadMs;
  for (let k = 0; k < N; k++) {
    const s = olds[k % o.hosts]!;
    const dueAt = go + Math.floor((((k * 7919) % 10_007) / 10_007) * o.watch.pollEarlyMs);
    // What a watch saves after its first poll (at go, every follower still there).
    const count = expected(k).initial;
    const byServer = new Map<string, number>();
    for (let i = 0; i < o.movers; i++) {
      const d = MOVER_DOMAINS[i % MOVER_DOMAINS.length]!;
      byServer.set(d, (byServer.get(d) ?? 0) + 1);
    }
    if (hasStragglers[k]) byServer.set(STRAGGLER_DOMAIN, o.stragglers);
    const servers = [...byServer].sort((x, y) => y[1] - x[1]).slice(0, 10);
    const data = watchRequest(s, `u${k}`, go);
    const cursor: WatchCursor = {
      milestones: [],
      initial: count,
      polls: 1,
      first: { at: go, count },
      last: { at: go, count },
      lastChangeAt: go,
      remaining: { total: count, servers, at: go },
    };
    await records.set(ids[k]!, {
      id: ids[k]!,
      user: userOf(k),
      kind: "watch",
      status: "running",
      data,
      cursor,
      updatedAt: now0,
      dueAt,
    });
    const tickMs = o.tickMs.min + ((k * 7919) % o.tickMs.spread);
    await move(s, `u${k}`, tickMs, hasStragglers[k] === 1, go);
    // Followers leave at go + tickMs, + 2·tickMs, …: the last at go + movers·tickMs.
    settleAt[k] = go + o.movers * tickMs;
    // Its first poll, as saved: the intervals count from it.
    lastLookup[k] = go;
  }

  // ---- baseline; then a process that starts finds them all and waits for each -----------
  drain();
  const baseline = await settledMemory();
  const startedAt = Date.now();
  const resumed = await jobs.resumeAll();
  const startingMs = Date.now() - startedAt;
  const expectedWaiting = N + o.warmup; // the warm-up users wait on their forget-later job
  const waitingAtMeasure = jobs.waiting;
  const loaded = await settledMemory();
  drain();
  const quietMeasure =
    Date.now() < go &&
    resumed === 0 &&
    waitingAtMeasure === expectedWaiting &&
    jobs.waiting === expectedWaiting &&
    figures.every((f) => f.requests.count === 0);

  // ---- the run ---------------------------------------------------------------------------
  const drainer = setInterval(drain, DRAIN_EVERY_MS);
  await sleep(Math.max(0, go - Date.now()));
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const elu = performance.eventLoopUtilization();
  const storeAtGo = { calls: counted.counts.calls, busyMs: counted.counts.busyMs };
  const deadline = go + o.timeoutMs;
  while (finishedUsers < N && Date.now() < deadline) await sleep(50);
  const lastFinishMs = Date.now() - go;
  await sleep(o.lingerMs);
  const busy = performance.eventLoopUtilization(elu).utilization;
  lag.disable();
  clearInterval(drainer);
  await jobs.stop();
  const storeRun = {
    calls: counted.counts.calls - storeAtGo.calls,
    busyMs: counted.counts.busyMs - storeAtGo.busyMs,
  };
  drain();
  const wallMs = Date.now() - go;

  // ---- how it ended, read from the store -------------------------------------------------
  let finishedSilently = 0;
  let stillWatching = 0;
  const jobStatus: Record<string, number> = {};
  for (let k = 0; k < N; k++) {
    const state = await engine.state(userOf(k));
    if (state?.step === "finished" && finishes[k] === 0) finishedSilently += 1;
    if (state?.step === "watching") stillWatching += 1;
    const status = (await records.get(ids[k]!))?.status ?? "missing";
    jobStatus[status] = (jobStatus[status] ?? 0) + 1;
  }

  let tornDown = true;
  try {
    await core.close();
    await store.close();
    for (const s of [quiet, warm, ...olds]) await s.close();
  } catch {
    tornDown = false;
  }
  rmSync(dir, { recursive: true, force: true });

  return {
    watches: N,
    startingMs,
    resumed,
    startMs: o.warmup > 0 ? startMs / o.warmup : Number.NaN,
    baseline,
    loaded,
    quiet: quietMeasure,
    waitingAtMeasure,
    expectedWaiting,
    hosts: figures,
    deniedRuns: budget.denied,
    settleAt,
    finishedAt,
    finishes,
    hasStragglers,
    lastPollAt,
    endGap,
    lastFinishMs,
    loopBusy: busy,
    loopLag: {
      p50: lag.percentile(50) / 1e6,
      p99: lag.percentile(99) / 1e6,
      max: lag.max / 1e6,
    },
    store: counted.counts,
    failures,
    storeRun,
    finishedSilently,
    stillWatching,
    jobStatus,
    wrongNumbers,
    milestones,
    pollGaps,
    wallMs,
    tornDown,
  };
}
