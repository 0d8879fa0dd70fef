/**
 * The watcher against an old server that counts every request it gets (its request log):
 * whatever the watch sends — lookups, Http's retries of them, list pages, the list read for
 * the finished message — stays within the server's hour budget. The budget's clock is held
 * still, so nothing refills: every request the server saw must have been one of the
 * budget's first `capacity` (a sixth of the hour's budget).
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import type { SignIn } from "../../src/clients/sign-in.js";
import { realWorld, type World } from "../../src/clients/world.js";
import { FollowerServers } from "../../src/jobs/follower-servers.js";
import { HostBudget } from "../../src/jobs/host-budget.js";
import type { JobControl } from "../../src/jobs/queue.js";
import { type WatchCursor, watchJob } from "../../src/jobs/watch-job.js";
import type { JobEvents, WatchProgress } from "../../src/model/jobs.js";
import { GuardedDispatcher } from "../../src/net/dispatcher.js";
import { Http } from "../../src/net/http.js";
import { Pacer } from "../../src/net/pacer.js";
import { openStore } from "../../src/store/open-store.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();

type Finished = Extract<JobEvents["watch"], { event: "finished" }>;

async function setUp(
  opts: { followers: number; stayers?: string; timeoutMs?: number } = { followers: 3 },
) {
  const origins: Record<string, string> = {};
  const old = closing(
    await startMastodonSandbox({
      domain: "old.example",
      rateLimit: null,
      originOf: (h) => origins[h] ?? null,
    }),
  );
  origins["old.example"] = old.url;
  old.addAccount({ username: "ada" });
  for (let i = 0; i < opts.followers; i++)
    old.follow(`f${i}@${opts.stayers ?? "gone.example"}`, "ada");
  old.moveAccount("ada", "ada@new.example");
  // Retries after 1 ms: the test counts requests, it doesn't wait out backoffs.
  const http = new Http(new GuardedDispatcher(new Pacer(), true), opts.timeoutMs ?? 500, 1);
  const world: World = realWorld({
    http,
    signIn: {} as SignIn,
    allowPrivateNetwork: true,
    timeoutMs: opts.timeoutMs ?? 500,
    // A stand-in's own links name its loopback host (its NodeInfo index does).
    originOf: (h) =>
      origins[h] ?? (h.startsWith("127.0.0.1:") ? `http://${h}` : "http://127.0.0.1:9"),
  });
  const store = await openStore("memory:");
  const reports: JobEvents["watch"][] = [];
  let cursor: WatchCursor | undefined;
  const control: JobControl<WatchCursor, JobEvents["watch"], WatchProgress> = {
    signal: new AbortController().signal,
    async save(c) {
      cursor = c;
    },
    async report(event) {
      reports.push(event);
      return "taken" as const;
    },
    async wanted() {
      return true;
    },
  };
  const job = (c: WatchCursor | undefined) => ({
    id: randomUUID(),
    user: "tg:1" as const,
    kind: "watch",
    data: { origin: old.url, username: "ada", domain: "old.example", startedAt: Date.now() },
    cursor: c,
  });
  return {
    old,
    world,
    store,
    origins,
    reports,
    control,
    job,
    cursor: () => cursor,
    /** Requests the old server got from the watcher (its own seeding is not logged). */
    sent: () => old.requests.length,
  };
}

describe("the watcher's budget per old server", () => {
  /**
   * Runs the watch as the runner would, each run at the time the last one asked for, on the
   * budget's clock; the times (on that clock) of the requests the old server got.
   */
  async function runs(
    t: Awaited<ReturnType<typeof setUp>>,
    perHour: number,
    count: number,
  ): Promise<number[]> {
    let clock = Date.now();
    const budget = new HostBudget(perHour, () => clock);
    const watch = watchJob({
      world: t.world,
      store: t.store,
      budget,
      // A poll a minute wanted: far more than the budget holds.
      options: { budgetPerHour: perHour, pollEarlyMs: 60_000 },
    });
    const job = t.job(undefined);
    const times: number[] = [];
    for (let run = 0; run < count; run++) {
      const before = t.sent();
      const outcome = await watch.run({ ...job, cursor: t.cursor() }, t.control);
      for (let k = before; k < t.sent(); k++) times.push(clock);
      clock = Math.max(clock, outcome?.again ?? clock);
    }
    return times;
  }
  const busiestHour = (times: number[]) =>
    Math.max(...times.map((from) => times.filter((x) => x >= from && x < from + 3_600_000).length));

  it("takes Http's retries from the budget like the first try: no hour holds more than the budget", async () => {
    const t = await setUp();
    // The old server fails every lookup: each poll is a try and three retries.
    t.old.failNext(10_000, { status: 503 });
    // 60 an hour: 10 at once, 50 more over the hour.
    const times = await runs(t, 60, 60);
    expect(times.length).toBeGreaterThan(60);
    expect(busiestHour(times)).toBeLessThanOrEqual(60);
  });

  it("counts timed-out retries too: a server that never answers gets no more than the budget", async () => {
    const t = await setUp({ followers: 3, timeoutMs: 50 });
    t.old.failNext(10_000, { hang: true });
    // 12 an hour: 2 at once, 10 more over the hour.
    const times = await runs(t, 12, 16);
    expect(times.length).toBeGreaterThan(12);
    expect(busiestHour(times)).toBeLessThanOrEqual(12);
  });

  it("reads who stayed for the finished message within the budget, and ends once there is room", async () => {
    const t = await setUp({ followers: 3, stayers: "quiet.example" });
    let now = 0;
    // 36 an hour: 6 at once, then one every 2 minutes (of the budget's clock).
    const budget = new HostBudget(36, () => now);
    const watch = watchJob({
      world: t.world,
      store: t.store,
      budget,
      options: { budgetPerHour: 36, settleMs: 0 },
    });
    const job = t.job({
      polls: 3,
      milestones: [50, 90],
      initial: 10,
      first: { at: 0, count: 10 },
      last: { at: 0, count: 3 },
      lastChangeAt: 0,
    });
    // Room for the poll's lookup, none for the list after it.
    budget.tryTake(new URL(t.old.url).host, 5);
    const first = await watch.run(job, t.control);
    expect(first).toMatchObject({ again: expect.any(Number) });
    expect(t.reports).toEqual([]);
    expect(t.sent()).toBe(1);
    expect(t.cursor()).toMatchObject({ ending: "settled", accountId: expect.any(String) });
    // Asked again before its place comes up: nothing is sent, the place is kept.
    expect(await watch.run({ ...job, cursor: t.cursor() }, t.control)).toEqual(first);
    expect(t.sent()).toBe(1);
    now = first!.again;
    expect(await watch.run({ ...job, cursor: t.cursor() }, t.control)).toBeUndefined();
    // The list (one page, and none after it): no lookup again.
    expect(t.sent()).toBe(2);
    const finished = t.reports.filter((r): r is Finished => r.event === "finished");
    expect(finished).toHaveLength(1);
    expect(finished[0]!.stayed).toHaveLength(3);
    expect(finished[0]!.result).toMatchObject({
      initial: 10,
      moved: 7,
      stayed: 3,
      ended: "settled",
    });
    expect(t.cursor()).toMatchObject({ done: true });
    expect(t.cursor()?.ending).toBeUndefined();
  });
});

describe("a list of who stayed longer than the budget holds at once", () => {
  it("reads what one take can hold and reports the end, saying the list is partial", async () => {
    // 12 an hour: 2 at once, the most one take can ever hold. 200 stayed: 3 pages and the
    // page that says there are no more would be 4 at once, and the end would wait forever.
    const t = await setUp({ followers: 200, stayers: "quiet.example" });
    let now = 0;
    const budget = new HostBudget(12, () => now);
    const watch = watchJob({
      world: t.world,
      store: t.store,
      budget,
      options: { budgetPerHour: 12, settleMs: 0 },
    });
    const job = t.job({
      polls: 3,
      milestones: [50, 90],
      initial: 400,
      first: { at: 0, count: 400 },
      last: { at: 0, count: 200 },
      lastChangeAt: 0,
    });
    let cursor: WatchCursor | undefined = job.cursor;
    for (let run = 0; run < 20 && !t.cursor()?.done; run++) {
      const outcome = await watch.run({ ...job, cursor }, t.control);
      cursor = t.cursor() ?? cursor;
      if (!outcome) break;
      now = Math.max(now, outcome.again);
    }
    const finished = t.reports.filter((r): r is Finished => r.event === "finished");
    expect(finished).toHaveLength(1);
    expect(finished[0]!.result).toMatchObject({ stayed: 200, ended: "settled" });
    // Two pages of 80: what one take holds (the poll before looked the account up).
    expect(finished[0]!.stayed).toHaveLength(160);
    expect(finished[0]!.partial).toBe(true);
    expect(t.cursor()).toMatchObject({ done: true });
  });
});

describe("what the followers' servers run", () => {
  it("asks each server once for every watch, and one that doesn't answer once too", async () => {
    const t = await setUp();
    const friends = closing(
      await startMastodonSandbox({ domain: "friends.example", version: "4.2.10", rateLimit: null }),
    );
    const silent = closing(
      await startMastodonSandbox({ domain: "silent.example", rateLimit: null }),
    );
    t.origins["friends.example"] = friends.url;
    t.origins["silent.example"] = silent.url;
    silent.failNext(1_000, { hang: true });
    const servers = new FollowerServers(t.world, { timeoutMs: 300, concurrency: 2 });
    const asked = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        servers.reason(k % 2 ? "friends.example" : "silent.example", "old.example"),
      ),
    );
    expect(asked.filter((r) => r.kind === "software" && r.name === "mastodon")).toHaveLength(10);
    expect(asked.filter((r) => r.kind === "not-answering")).toHaveLength(10);
    expect(await servers.reason("old.example", "old.example")).toEqual({ kind: "old-server" });
    // The index and the document from the one that answers; one try (and its retries) of the other.
    expect(friends.requests.map((r) => r.path)).toEqual(["/.well-known/nodeinfo", "/nodeinfo/2.0"]);
    const silentAsked = silent.requests.length;
    expect(await servers.reason("silent.example", "old.example")).toEqual({
      kind: "not-answering",
    });
    expect(silent.requests.length).toBe(silentAsked);
  });
});
