/**
 * Benchmark, not a test: fedimove's real follow import (engine, JobRunner with registerJobs,
 * the import-follows job, World with MicroblogClient over Http and GuardedDispatcher/Pacer,
 * SQLite store) against the micro.blog stand-in in this process, with the stand-in's per-IP
 * limit set to R requests a second. Each user is at the import preview with their follows
 * in the store and presses "Start following"; the preview's own requests are not made.
 *
 *  - Scenario 1: one user imports 2,000 follows.
 *  - Scenario 2: 100 users import 20 follows each (the same 2,000 follows), all at once,
 *    through one dispatcher and client as in one bot process.
 *
 * Each at 0 ms and 20 ms of latency per request. Prints, as measured in this one run: the
 * follows answered per second over the import's wall time ÷ R (target ≥ 0.9), follows
 * answered twice for the same user and handle (target 0), requests that reached the
 * stand-in after a 403 and before that window's end (target 0), the 403s and all requests,
 * and the arithmetic that explains the rate (bench/lib/import-model.ts).
 *
 * Scale: micro.blog allows 300 requests a minute per IP, and the client blocks for a minute
 * after a 403. Here the window is 1 s with R = 50, so that 2,000 follows take ~40 s rather
 * than ~7 min; the block after a 403 is scaled with the window (1 s, the `blockMs` of the
 * Pacer's rule for micro.blog) and so is the Pacer's slack (250 ms → 4 ms). HTTP timeout and retries are
 * production's. Then one short run where the block costs the most (R = 33, 20 ms).
 */
import { performance } from "node:perf_hooks";
import { figuresOf, type ImportFigures } from "./lib/import-figures.js";
import { type ClientPacing, modelRatio, queueCeiling } from "./lib/import-model.js";
import { runImport } from "./lib/import-run.js";

const WINDOW_MS = 1000;
const LIMIT = 50;
/** micro.blog's window, which production's 60 s block matches; we scale by WINDOW_MS / this. */
const REAL_WINDOW_MS = 60_000;
const BLOCK_MS = WINDOW_MS;
const SLACK_MS = Math.round((250 * WINDOW_MS) / REAL_WINDOW_MS);
/** The production default (HTTP_TIMEOUT_MS). */
const HTTP_TIMEOUT_MS = 15_000;
const LATENCIES = [0, 20] as const;
const TARGET_RATIO = 0.9;

interface Scenario {
  title: string;
  users: number;
  followsPerUser: number;
  limit: number;
  latencies: readonly number[];
}

const SCENARIOS: Scenario[] = [
  {
    title: "Scenario 1: one user imports 2,000 follows",
    users: 1,
    followsPerUser: 2000,
    limit: LIMIT,
    latencies: LATENCIES,
  },
  {
    title: "Scenario 2: 100 users import 20 follows each, at once, through one client",
    users: 100,
    followsPerUser: 20,
    limit: LIMIT,
    latencies: LATENCIES,
  },
  {
    title:
      "Where the block after a 403 costs most (R·c between 0.5 and 1, as for micro.blog's " +
      "300/min at 100–200 ms a request): one user, 600 follows, R = 33",
    users: 1,
    followsPerUser: 600,
    limit: 33,
    latencies: [20],
  },
];

// ---- formatting --------------------------------------------------------------------------

const int = (k: number) => k.toLocaleString("en");
const x = (r: number) => `${r.toFixed(3)}×`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");

interface Measured {
  latencyMs: number;
  f: ImportFigures;
  model: number;
  /** The model over 100,000 requests: what a long import would settle at. */
  longModel: number;
  ceiling: number;
}

function table(sc: Scenario, runs: Measured[]): string[] {
  const r = sc.limit / (WINDOW_MS / 1000);
  const rows: string[][] = [["", ...runs.map((m) => `latency ${m.latencyMs} ms`)]];
  const row = (label: string, cell: (m: Measured) => string) =>
    rows.push([label, ...runs.map(cell)]);
  row(`follows answered/s ÷ R (target ≥ ${TARGET_RATIO})`, (m) => {
    const rate = m.f.followsAnswered / (m.f.wallMs / 1000);
    return `${x(m.f.followRatio)} (${rate.toFixed(1)}/s)`;
  });
  row("all answered requests/s ÷ R (follows + following lists)", (m) => x(m.f.answeredRatio));
  row("duplicate follows (target 0)", (m) => int(m.f.duplicates));
  row("requests after a 403, before its window's end (target 0)", (m) => int(m.f.afterRefusal));
  row("403s / all requests", (m) => `${int(m.f.refused)} / ${int(m.f.requests)}`);
  row("wall time, Start following → last job done", (m) => s(m.f.wallMs));
  row("c: ms from one request's arrival to the next", (m) => m.f.cycleMs.toFixed(2));
  row("R·c", (m) => (r * (m.f.cycleMs / 1000)).toFixed(3));
  row("ceiling of one request in flight, min(1, 1/(R·c))", (m) => x(m.ceiling));
  row(
    "model of the client's pacing at that c: this run / long run",
    (m) => `${x(m.model)} / ${x(m.longModel)}`,
  );
  row("block overrun: next request after the 403's window ended", (m) =>
    m.f.refused ? `${(m.f.pastResetMs / m.f.refused).toFixed(0)} ms a 403` : "—",
  );
  row("users with every follow on micro.blog", (m) => `${m.f.complete}/${sc.users}`);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((cells) => cells[c]!.length)));
  const lines = rows.map((cells) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join("  "),
  );
  for (const m of runs) {
    const told = [...m.f.told].map(([line, k]) => `"${line}" ×${k}`).join(", ");
    const when =
      sc.users > 1 ? `; first told at ${s(m.f.firstToldMs)}, last at ${s(m.f.lastToldMs)}` : "";
    lines.push(`  ${m.latencyMs} ms: told ${told || "nothing"}${when}.`);
  }
  return lines;
}

function why(sc: Scenario, m: Measured): string {
  const r = sc.limit / (WINDOW_MS / 1000);
  const rc = r * (m.f.cycleMs / 1000);
  const listShare = 1 - m.f.followsAnswered / Math.max(1, m.f.answered);
  const parts: string[] = [];
  if (rc >= 1) {
    parts.push(
      `the queue: one request at a time, one every ${m.f.cycleMs.toFixed(1)} ms, is ` +
        `${(1000 / m.f.cycleMs).toFixed(1)}/s < R = ${r}/s, so the limit is never reached`,
    );
  } else {
    parts.push(
      `the 403 cycle: after a refusal the block runs a whole window from it, so the next ` +
        `request leaves ${(m.f.pastResetMs / Math.max(1, m.f.refused)).toFixed(0)} ms into the ` +
        `next window on average, and a burst of ${sc.limit} requests (${((sc.limit * m.f.cycleMs) / 1000).toFixed(2)} s) ` +
        `that no longer fits in what is left of its window wastes the rest of that window's ` +
        `budget (model at this c: ${x(m.model)}, long run ${x(m.longModel)})`,
    );
  }
  if (listShare > 0.01)
    parts.push(
      `${(100 * listShare).toFixed(1)}% of the answered requests are the jobs' following lists, not follows`,
    );
  return `  ${m.latencyMs} ms: ${parts.join("; ")}.`;
}

// ---- run ---------------------------------------------------------------------------------

const begun = performance.now();
out(
  `Follow import against the micro.blog stand-in in this process; its per-IP limit R = ${LIMIT} ` +
    `requests/s (${LIMIT} per ${WINDOW_MS / 1000} s fixed window, every request counted, refused ones too; 403 beyond).`,
);
out(
  `micro.blog's is 300 per minute; production's 60 s block after a 403 is scaled with the window to ` +
    `${BLOCK_MS} ms (the Pacer rule's blockMs), the Pacer's 250 ms slack to ${SLACK_MS} ms; ` +
    `HTTP timeout ${HTTP_TIMEOUT_MS / 1000} s and retries as in production.`,
);
out(
  "Real engine (the user presses Start following), SQLite store, JobRunner with registerJobs, one " +
    "GuardedDispatcher/Http/MicroblogClient for all users; each round starts just after a window boundary.",
);
out(
  "A round of 2,000 follows spans about 40 windows: one window more or less moves a ratio by about 0.025.",
);

for (const sc of SCENARIOS) {
  const runs: Measured[] = [];
  for (const latencyMs of sc.latencies) {
    const run = await runImport({
      users: sc.users,
      followsPerUser: sc.followsPerUser,
      latencyMs,
      rateLimit: { limit: sc.limit, windowMs: WINDOW_MS },
      blockMs: BLOCK_MS,
      pacerSlackMs: SLACK_MS,
      httpTimeoutMs: HTTP_TIMEOUT_MS,
    });
    const f = figuresOf(run, sc.limit / (WINDOW_MS / 1000));
    const pacing: ClientPacing = {
      limit: sc.limit,
      windowMs: WINDOW_MS,
      cycleMs: f.cycleMs,
      latencyMs,
      blockMs: BLOCK_MS,
      slackMs: SLACK_MS,
    };
    runs.push({
      latencyMs,
      f,
      model: modelRatio(pacing, f.answered),
      longModel: modelRatio(pacing, 100_000),
      ceiling: queueCeiling(pacing),
    });
  }
  out();
  out(sc.title);
  for (const line of table(sc, runs)) out(line);
  const missed = runs.filter((m) => m.f.followRatio < TARGET_RATIO);
  out(
    `Targets: rate ≥ ${TARGET_RATIO} ${runs.map((m) => `${verdict(m.f.followRatio >= TARGET_RATIO)} at ${m.latencyMs} ms`).join(", ")}; ` +
      `no duplicate follows ${verdict(runs.every((m) => m.f.duplicates === 0))}; ` +
      `nothing sent into a refused window ${verdict(runs.every((m) => m.f.afterRefusal === 0))}.`,
  );
  if (missed.length > 0) {
    out("Why the rate falls short:");
    for (const m of missed) out(why(sc, m));
  }
}
out();
out(`Whole run, seeding included: ${s(performance.now() - begun)}.`);

function out(line = ""): void {
  console.log(line);
}
