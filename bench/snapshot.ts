/**
 * Benchmark, not a test: an account with 10,000 follows and 10,000 followers is saved by
 * fedimove's real snapshot job (engine, World over GuardedDispatcher/Pacer/Http, SQLite
 * store, job runner), started the way a user starts it (pasting a token), against the
 * Mastodon stand-in in this process with 50 ms of latency on every request and rate
 * limits on. Prints, as ratios measured in each run:
 *
 *  - requests made ÷ the fewest an export can make;
 *  - wall time ÷ the least time that the latency and the rate limit allow;
 *  - whether the server ever answered 429, and how many progress updates the user saw.
 *
 * Three runs. A: Mastodon's own limits (300 requests / 5 min per token, 1,500 per user,
 * 300 / 15 min for requests with max_id: the stand-in's defaults), started whenever the
 * bench gets there, as a user would. B and C: every window divided by 10, same limits, so
 * that a run is short and a wait is shorter than the HTTP timeout; B starts as a window
 * begins (the whole budget, then a wait for the next window), C 5 s before a window ends
 * (a client at 50 ms a request needs no wait at all).
 */
import { performance } from "node:perf_hooks";
import { DEFAULT_RATE_LIMIT, type RateLimitConfig } from "../sandbox/mastodon-throttle.js";
import { setLogLevel } from "../src/log.js";
import {
  minimumRequests,
  requestOrder,
  sequentialOptimum,
  type Throttle,
  tokenBound,
} from "./lib/snapshot-bounds.js";
import { runSnapshot, type SnapshotRun } from "./lib/snapshot-run.js";

const FOLLOWS = 10_000;
const FOLLOWERS = 10_000;
const LATENCY_MS = 50;
/** The production defaults: HTTP_TIMEOUT_MS, and what Http does with a request that times out. */
const HTTP_TIMEOUT_MS = 15_000;
const ATTEMPTS = 4;
const BACKOFF_MS = 500 + 1000 + 2000;
const TARGET_REQUESTS = 1.05;
const TARGET_TIME = 1.2;

interface Limits {
  perToken: { limit: number; windowMs: number };
  perUser: { limit: number; windowMs: number };
  paging: { limit: number; windowMs: number };
}

/** Mastodon's (config/initializers/rack_attack.rb), as the stand-in enforces them by default. */
const MASTODON: Limits = {
  perToken: { limit: DEFAULT_RATE_LIMIT.limit, windowMs: DEFAULT_RATE_LIMIT.windowMs },
  perUser: { limit: 5 * DEFAULT_RATE_LIMIT.limit, windowMs: DEFAULT_RATE_LIMIT.windowMs },
  paging: { limit: 300, windowMs: 15 * 60_000 },
};

function scaled(limits: Limits, by: number): Limits {
  const w = (x: { limit: number; windowMs: number }) => ({ ...x, windowMs: x.windowMs / by });
  return { perToken: w(limits.perToken), perUser: w(limits.perUser), paging: w(limits.paging) };
}

interface Pass {
  name: string;
  limits: Limits;
  scale: number;
  startWithMsLeft?: number;
  how: string;
}

const PASSES: Pass[] = [
  { name: "A", limits: MASTODON, scale: 1, how: "started whenever the bench got there" },
  {
    name: "B",
    limits: scaled(MASTODON, 10),
    scale: 10,
    startWithMsLeft: 29_800,
    how: "token pasted 0.2 s into a window",
  },
  {
    name: "C",
    limits: scaled(MASTODON, 10),
    scale: 10,
    startWithMsLeft: 5_000,
    how: "token pasted 5 s before a window ends",
  },
];

// ---- formatting --------------------------------------------------------------------------

const s = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const x = (r: number) => `${r.toFixed(3)}×`;
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
const windowText = (w: { limit: number; windowMs: number }) =>
  `${w.limit.toLocaleString("en")} / ${w.windowMs % 60_000 === 0 ? `${w.windowMs / 60_000} min` : s(w.windowMs)}`;
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const isPaging = (path: string) =>
  /[?&](page|min_id|max_id|since_id)(%5B%5D|\[\])?=[^&]/.test(path);

// ---- one run -----------------------------------------------------------------------------

interface Verdicts {
  name: string;
  delivered: boolean;
  requests: number;
  time: number;
  tooMany: number;
}

function report(pass: Pass, run: SnapshotRun, out: (line?: string) => void): Verdicts {
  const { perToken, perUser, paging } = pass.limits;
  const min = minimumRequests(FOLLOWS, FOLLOWERS);
  const t0 = run.jobStart;
  const ours = run.log.filter((q) => q.tokenId === run.tokenId);
  const snapshot = ours.filter((q) => q.time >= t0).sort((a, b) => a.time - b.time);
  const before = ours.filter((q) => q.time < t0 && q.path.startsWith("/api"));
  // The stand-in counts a request once the latency has passed, just before it answers.
  const inStartWindow = (q: { time: number; durationMs: number }, windowMs: number) =>
    Math.floor((q.time + q.durationMs) / windowMs) === Math.floor(t0 / windowMs);
  const throttles: Throttle[] = [
    {
      ...perToken,
      usedAtStart: before.filter((q) => inStartWindow(q, perToken.windowMs)).length,
      applies: () => true,
    },
    {
      ...perUser,
      usedAtStart: before.filter((q) => inStartWindow(q, perUser.windowMs)).length,
      applies: () => true,
    },
    {
      ...paging,
      usedAtStart: before.filter((q) => isPaging(q.path) && inStartWindow(q, paging.windowMs))
        .length,
      applies: (kind) => kind === "paging",
    },
  ];
  const wallMs = run.jobEnd - run.jobStart;
  const tooMany = run.log.filter((q) => q.status === 429);
  const progress = run.notices.filter((n) => n.reply.kind === "progress");
  const waitNotices = progress.filter(
    (n) => n.reply.kind === "progress" && n.reply.text.join("").startsWith("Waiting for"),
  );
  const keys = new Set(progress.map((n) => (n.reply.kind === "progress" ? n.reply.key : "")));

  const phase = t0 % perToken.windowMs;
  out(
    `${pass.name}. ${pass.scale === 1 ? "Mastodon's limits" : `Windows ÷ ${pass.scale}`}: per token ` +
      `${windowText(perToken)}, per user ${windowText(perUser)}, max_id ${windowText(paging)}; ` +
      `${pass.how}: job started ${s(phase)} into a ${s(perToken.windowMs)} window ` +
      `(${s(perToken.windowMs - phase)} before it ends).`,
  );
  out(`   Outcome: ${run.delivered ? "" : "FAILED — "}${run.outcome}`);

  // Requests.
  const count = (re: RegExp) => snapshot.filter((q) => re.test(q.path)).length;
  const following = count(/^\/api\/v1\/accounts\/[^/]+\/following/);
  const relationships = count(/^\/api\/v1\/accounts\/relationships/);
  const followers = count(/^\/api\/v1\/accounts\/[^/]+\/followers/);
  const other = snapshot.length - following - relationships - followers;
  const requestRatio = snapshot.length / min.total;
  out(
    `   Requests: ${snapshot.length} (following ${following}, relationships ${relationships}, ` +
      `followers ${followers}, other ${other}) ÷ fewest ${min.total} = ${x(requestRatio)}` +
      (run.delivered ? "" : " — stopped early, so not a result") +
      `; ${run.attempts} handed to the pacer (${run.attempts - snapshot.length} given up before they were sent).`,
  );

  // Time: where it went. A gap is a rate-limit wait when the pacer held a request in it, the
  // user was told of a wait in it, or it spans a window's end and is longer than a request.
  const isWait = (from: number, to: number) =>
    run.waits.some((w) => w.at >= from && w.at <= to) ||
    waitNotices.some((n) => n.at >= from && n.at <= to) ||
    (Math.floor(from / perToken.windowMs) !== Math.floor(to / perToken.windowMs) &&
      to - from > 4 * LATENCY_MS);
  let inRequests = 0;
  let between = 0;
  let waited = 0;
  let pastBoundary = 0;
  let waitGaps = 0;
  for (let i = 0; i + 1 < snapshot.length; i++) {
    const q = snapshot[i]!;
    const next = snapshot[i + 1]!;
    inRequests += q.durationMs;
    const gap = next.time - (q.time + q.durationMs);
    if (isWait(q.time + q.durationMs, next.time)) {
      waitGaps += 1;
      waited += gap;
      pastBoundary += next.time - Math.floor(next.time / perToken.windowMs) * perToken.windowMs;
    } else {
      between += gap;
    }
  }
  const first = snapshot[0];
  const last = snapshot[snapshot.length - 1];
  if (last) inRequests += last.durationMs;
  const beforeFirst = first ? first.time - t0 : wallMs;
  const afterLast = last ? run.jobEnd - (last.time + last.durationMs) : 0;
  const gaps = Math.max(1, snapshot.length - 1 - waitGaps);
  const plainGaps: number[] = [];
  for (let i = 0; i + 1 < snapshot.length; i++) {
    const q = snapshot[i]!;
    const next = snapshot[i + 1]!;
    if (!isWait(q.time + q.durationMs, next.time))
      plainGaps.push(next.time - (q.time + q.durationMs));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const growth = `${mean(plainGaps.slice(0, 40)).toFixed(1)} ms over the first 40, ${mean(plainGaps.slice(-40)).toFixed(1)} ms over the last 40`;
  const firstWindow = snapshot.filter(
    (q) =>
      Math.floor((q.time + q.durationMs) / perToken.windowMs) ===
      Math.floor(t0 / perToken.windowMs),
  );
  const lastOfFirst = firstWindow[firstWindow.length - 1];

  if (!run.delivered) {
    const wait = run.waits[0];
    out(
      `   Time: gave up ${s(wallMs)} after starting; ${s(beforeFirst + inRequests + between)} making ` +
        `${snapshot.length} requests (${(between / gaps).toFixed(1)} ms between them), then ` +
        (wait
          ? `the pacer held the next one for the window's end at ${clock(wait.until)} UTC ` +
            `(${s(wait.until - wait.at)} away) for ${s(run.jobEnd - wait.at)}.`
          : "no rate-limit wait."),
    );
    const budgetMs = ATTEMPTS * HTTP_TIMEOUT_MS + BACKOFF_MS;
    // The explanation below holds when the job gave up as Http does after its last timeout.
    if (wait && Math.abs(run.jobEnd - wait.at - budgetMs) < 2000) {
      const usedMs = lastOfFirst ? lastOfFirst.time + lastOfFirst.durationMs - t0 : 0;
      const failing = Math.max(0, perToken.windowMs - usedMs - budgetMs) / perToken.windowMs;
      out(
        `   Why: the pacer waits inside fetch (GuardedDispatcher.dispatch), so Http's ${s(HTTP_TIMEOUT_MS)} ` +
          `timeout runs during the wait: ${run.attempts - snapshot.length} attempts timed out ` +
          `(${waitNotices.length} "Waiting…" updates, one per attempt) and the job failed once ` +
          `${ATTEMPTS} × ${s(HTTP_TIMEOUT_MS)} + ${s(BACKOFF_MS)} backoff = ${s(budgetMs)} had passed. ` +
          `At this pace (${firstWindow.length} requests in ${s(usedMs)}), every start more than ` +
          `${s(usedMs + budgetMs)} before a window's end fails: ${(100 * failing).toFixed(0)}% of start times.`,
      );
    }
  }

  // Time: the bound.
  const bound = tokenBound(t0, min.total, LATENCY_MS, throttles[0]!);
  const exact = sequentialOptimum(t0, requestOrder(FOLLOWS, FOLLOWERS), LATENCY_MS, throttles);
  const lowerMs = Math.max(bound.ms, exact);
  const timeRatio = wallMs / lowerMs;
  const closed =
    bound.k === 0
      ? `R ≤ b₁ = ${bound.b1}: the limit doesn't bind, R·L = ${s(bound.sequentialMs)}`
      : `b₁ = ${perToken.limit} − ${throttles[0]!.usedAtStart} = ${bound.b1}, k = ${bound.k}, ` +
        `B_k − t₀ = ${s(bound.toLastBoundaryMs)}, m = ${bound.m}: ` +
        `max(${s(bound.sequentialMs)}, ${s(bound.toLastBoundaryMs)} + ${bound.m - 1}·L) = ${s(bound.ms)}`;
  out(
    `   Bound: ${closed}` +
      (exact > bound.ms + 1
        ? `; the first window is too short for b₁ requests at L each: exact optimum ${s(exact)}.`
        : ` (exact optimum ${s(exact)}).`),
  );
  if (run.delivered) {
    out(
      `   Wall time: ${s(wallMs)} ÷ ${s(lowerMs)} = ${x(timeRatio)} — target ≤ ${TARGET_TIME}: ${verdict(timeRatio <= TARGET_TIME)}`,
    );
    const chain = Math.max(min.following, min.followers);
    const overlapMs = Math.max(chain * LATENCY_MS, bound.k > 0 ? bound.toLastBoundaryMs : 0);
    out(
      `   Where it went: ${s(beforeFirst)} before the first request; ${s(inRequests)} in requests ` +
        `(${(inRequests / snapshot.length).toFixed(1)} ms each at the server); ${s(between)} between ` +
        `them (${(between / gaps).toFixed(1)} ms each: ${growth}); ${s(waited)} in ${waitGaps} ` +
        `rate-limit wait${waitGaps === 1 ? "" : "s"}` +
        (waitGaps > 0
          ? `, resumed ${s(pastBoundary)} past the boundary (Mastodon's Reset carries the ` +
            "sub-second part of the request's time; the pacer adds 250 ms)"
          : "") +
        `; ${s(afterLast)} after the last (files, state).`,
    );
    const active = wallMs - waited;
    out(
      `   Without the waits: ${s(active)} ÷ R·L ${s(min.total * LATENCY_MS)} = ` +
        `${x(active / (min.total * LATENCY_MS))}. If requests overlapped (followers beside follows, ` +
        `relationships beside the next page), the bound would be max(${chain}·L, B_k − t₀) = ` +
        `${s(overlapMs)}: ${x(wallMs / overlapMs)}.`,
    );
  }
  out(
    `   429s: ${tooMany.length === 0 ? "none" : tooMany.length}. Progress: ${progress.length} ` +
      `updates (${waitNotices.length} about a wait), ${keys.size} message${keys.size === 1 ? "" : "s"} edited in place.`,
  );
  return {
    name: pass.name,
    delivered: run.delivered,
    requests: requestRatio,
    time: timeRatio,
    tooMany: tooMany.length,
  };
}

// ---- main --------------------------------------------------------------------------------

setLogLevel("silent");
const begun = performance.now();
const min = minimumRequests(FOLLOWS, FOLLOWERS);
const out = (line = "") => console.log(line);
out(
  `One account: ${FOLLOWS.toLocaleString("en")} follows, ${FOLLOWERS.toLocaleString("en")} followers, ` +
    `no lists, blocks, mutes, domain blocks or bookmarks; ${LATENCY_MS} ms latency per request.`,
);
out(
  "The real engine, SQLite store, job runner and snapshot job; Pacer (250 ms slack) and Http " +
    `(${s(HTTP_TIMEOUT_MS)} timeout, ${ATTEMPTS} attempts) as src/app.ts makes them.`,
);
out(
  "Fewest requests = (⌈F/80⌉ + [80 | F]) following + ⌈F/80⌉ relationships + (⌈N/80⌉ + [80 | N]) " +
    `followers + 5 (lists, blocks, mutes, domain blocks, bookmarks) = ${min.following} + ` +
    `${min.relationships} + ${min.followers} + ${min.other} = ${min.total}; [80 | n] = 1 when the ` +
    "last page is exactly full (Mastodon then links to an empty page).",
);
out(
  "Least time, requests one after another = max(R·L, (B_k − t₀) + (m − 1)·L): R requests, L latency, " +
    "t₀ the job's start; windows are epoch multiples of the period, B₁ the first boundary after t₀; " +
    "b₁ = limit − requests the sign-in already counted in t₀'s window; k = ⌈(R − b₁)/limit⌉ " +
    "boundaries must pass (0: the limit doesn't bind); B_k = B₁ + (k − 1)·period; " +
    "m = R − b₁ − (k − 1)·limit requests fall in the last window, the first answered at B_k at the " +
    "earliest (the stand-in counts a request as it answers), L each after it. Checked against the " +
    `exact sequential optimum under all three limits (simulated); the max_id limit never binds: ` +
    `${min.paging} requests carry max_id.`,
);
out();

const results: Verdicts[] = [];
for (const pass of PASSES) {
  if (pass.scale !== 1 && PASSES[PASSES.indexOf(pass) - 1]?.scale === 1)
    out(
      `B and C: every window ÷ ${pass.scale}, same limits (the ratios are what matter), so that each ` +
        "starts at a chosen point of a window and takes under a minute, and a wait stays under " +
        `the ${s(HTTP_TIMEOUT_MS)} HTTP timeout.\n`,
    );
  const run = await runSnapshot({
    follows: FOLLOWS,
    followers: FOLLOWERS,
    latencyMs: LATENCY_MS,
    rateLimit: {
      ...pass.limits.perToken,
      perUser: pass.limits.perUser,
      paging: pass.limits.paging,
    } satisfies RateLimitConfig,
    httpTimeoutMs: HTTP_TIMEOUT_MS,
    startWithMsLeft: pass.startWithMsLeft,
  });
  results.push(report(pass, run, out));
  out();
}

const row = (r: Verdicts) =>
  `${r.name}: ${r.delivered ? "delivered" : "FAILED"}, requests ${x(r.requests)} ` +
  `(≤ ${TARGET_REQUESTS}: ${verdict(r.delivered && r.requests <= TARGET_REQUESTS)}), ` +
  `time ${r.delivered ? x(r.time) : "—"} (≤ ${TARGET_TIME}: ${verdict(r.delivered && r.time <= TARGET_TIME)}), ` +
  `429s ${r.tooMany} (none: ${verdict(r.tooMany === 0)})`;
out("Targets");
for (const r of results) out(`  ${row(r)}`);
out(`Whole bench: ${s(performance.now() - begun)}.`);
// A request the pacer still holds for a failed run's window would keep the process alive.
process.exit(0);
