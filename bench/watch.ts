/**
 * Benchmark, not a test: 10,000 transfer watches in one process, through fedimove's real
 * job runner and watch job (registerJobs with compressed intervals), engine, World
 * (GuardedDispatcher, Pacer, Http with the production defaults) and SQLite store, against
 * five Mastodon stand-ins in this process playing the old servers, 2,000 moved accounts
 * each. Every account has five followers who leave one by one after the Move, and every
 * other account one more on a server that never processes it. Prints, as measured in one run:
 *
 *  - memory per watch: heap (after forced GC) and rss with every watch waiting for its next
 *    poll, minus the same process before the watches were started, ÷ 10,000;
 *  - requests to each old server in its busiest (compressed) hour ÷ the watcher's budget,
 *    from the stand-ins' request logs;
 *  - the time from the count settling (the last follower leaving) to the finished message,
 *    in poll intervals and settle periods; and whether everyone got exactly one.
 *
 * Time is compressed: a poll every 2 s for the first 10 s, then every 5 s; finished after
 * 20 s without a change. The budget is HostBudget itself, its hour run on a clock 720 times
 * faster (the factor that makes the hourly late poll 5 s), so 600 requests an hour per server
 * become 600 per 5 s (see lib/watch-budget.ts). A second argument runs every period that
 * many times slower (see SLOW).
 *
 * The watches are saved as a watch saves itself after its first poll (record, then its
 * places in the jobs' scored sets) and started by jobs.resumeAll(), as a process that
 * restarts finds them (the time of one jobs.start() is printed too).
 */
import { availableParallelism, loadavg } from "node:os";
import { sustainedPerHour } from "../src/jobs/host-budget.js";
import { DEFAULT_WATCH, type WatchOptions } from "../src/jobs/watch-job.js";
import { setLogLevel } from "../src/log.js";
import { gcExposed } from "./lib/measure.js";
import { budgetRows, delays, messages, type Spread } from "./lib/watch-figures.js";
import { runWatches } from "./lib/watch-run.js";

const HOSTS = 5;
/** `node bench/watch.ts 200` runs 200 accounts per server instead, to compare. */
const PER_HOST = Number(process.argv[2] ?? 2_000);
/**
 * `node bench/watch.ts 2000 4` runs the compressed clock 4 times slower (every period below,
 * the hour too): 10,000 watches at ×720 ask more requests a second of this one process than
 * a CPU serves, so its timings measure the CPU; slower, they measure the watcher.
 */
const SLOW = Number(process.argv[3] ?? 1);
const MOVERS = 5;
const STRAGGLERS = 1;
/**
 * Followers leave every 2.2–3.8 s: the last one 11–19 s after the Move, once the early polls
 * are over, so that a settled count is finished settle + at most one poll interval later.
 * (A count that settles during the early polls can take one early interval more: the polls
 * that follow fall on a 2 s grid, then a 5 s one, and the settle period ends between two.)
 */
const TICK_MS = { min: 2_200 * SLOW, spread: 1_600 * SLOW };
const WATCH: WatchOptions = {
  pollEarlyMs: 2_000 * SLOW,
  earlyForMs: 10_000 * SLOW,
  pollLateMs: 5_000 * SLOW,
  settleMs: 20_000 * SLOW,
  capMs: 600_000 * SLOW,
  budgetPerHour: DEFAULT_WATCH.budgetPerHour,
  // Wall-clock ms, not compressed: a request here reaches its stand-in (in this process)
  // within this of the budget letting it go; production allows the HTTP timeout. On the
  // compressed clock the allowance is that many times longer (see lib/watch-budget.ts).
  budgetReachMs: 500,
  forgetAfterMs: 86_400_000,
  listEveryPollUpTo: DEFAULT_WATCH.listEveryPollUpTo,
};
/** The compressed hour: production polls hourly once the first two hours are over. */
const HOUR_MS = WATCH.pollLateMs;
const TARGET_BUDGET = 1.0;
/** Slack for the work between deciding and the message, on top of settle + one poll. */
const SLACK_MS = 1_000 * SLOW;

// ---- formatting --------------------------------------------------------------------------

const s = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const ms = (x: number) => `${x.toFixed(1)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const r2 = (x: number) => x.toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const n = (x: number) => x.toLocaleString("en");
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
const factor = (prod: number, bench: number) => `×${n(Math.round(prod / bench))}`;

function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows)
    console.log(
      `  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")}`,
    );
}

const spreadRow = (label: string, d: Spread): string[] => [
  label,
  n(d.count),
  `${s(d.p50)} = ${r2(d.p50 / WATCH.pollLateMs)} = ${r2(d.p50 / WATCH.settleMs)}`,
  `${s(d.p99)} = ${r2(d.p99 / WATCH.pollLateMs)} = ${r2(d.p99 / WATCH.settleMs)}`,
  `${s(d.max)} = ${r2(d.max / WATCH.pollLateMs)} = ${r2(d.max / WATCH.settleMs)}`,
];

// ---- the run -----------------------------------------------------------------------------

setLogLevel("silent");
const load = loadavg()[0]!;
const run = await runWatches({
  hosts: HOSTS,
  perHost: PER_HOST,
  movers: MOVERS,
  stragglers: STRAGGLERS,
  tickMs: TICK_MS,
  watch: WATCH,
  hourMs: HOUR_MS,
  warmup: 50,
  // Time to start every watch and weigh them before the first polls: on a loaded machine
  // 10,000 take longer than 10 s, and a poll during the weighing spoils the memory figure.
  leadMs: Math.max(10_000, HOSTS * PER_HOST * 2),
  timeoutMs: 360_000 * SLOW,
  lingerMs: WATCH.pollLateMs + 1_000,
});

// ---- report ------------------------------------------------------------------------------

const N = run.watches;
console.log(
  `${n(N)} watches: ${HOSTS} old servers × ${n(PER_HOST)} moved accounts, ${MOVERS} followers each ` +
    `leaving one every ${s(TICK_MS.min)}–${s(TICK_MS.min + TICK_MS.spread)}, and on every other ` +
    `account ${STRAGGLERS} who never leaves.`,
);
console.log(
  "One process: JobRunner, watch job, engine, World and SQLite store; Mastodon stand-ins in " +
    `this process. Load average ${load.toFixed(1)} on ${availableParallelism()} CPUs at the start.`,
);
console.log(
  `Compressed: poll every ${s(WATCH.pollEarlyMs)} (${factor(DEFAULT_WATCH.pollEarlyMs, WATCH.pollEarlyMs)}) ` +
    `for ${s(WATCH.earlyForMs)} (${factor(DEFAULT_WATCH.earlyForMs, WATCH.earlyForMs)}), then every ` +
    `${s(WATCH.pollLateMs)} (${factor(DEFAULT_WATCH.pollLateMs, WATCH.pollLateMs)}); settled after ` +
    `${s(WATCH.settleMs)} (${factor(DEFAULT_WATCH.settleMs, WATCH.settleMs)}); budget ` +
    `${n(WATCH.budgetPerHour)} per server per hour, the hour ${s(HOUR_MS)} ` +
    `(${factor(3_600_000, HOUR_MS)}).`,
);
console.log(
  `So this process sends up to ${n(Math.round((HOSTS * WATCH.budgetPerHour * 1000) / HOUR_MS))} ` +
    "requests a second to the old servers and answers them itself (the stand-ins run in it), " +
    `where production at ${n(HOSTS * PER_HOST)} watches sends ` +
    `${((HOSTS * WATCH.budgetPerHour) / 3600).toFixed(2)}: a loop busy near 100% here says the ` +
    "compressed clock outruns one CPU, and the timings then include that wait.",
);

console.log("");
console.log(
  `Memory per watch, ${n(N)} waiting for their next poll (heap after forced GC, minus the same ` +
    "process before they were started):",
);
const heapPer = (run.loaded.heapUsed - run.baseline.heapUsed) / N;
const rssPer = (run.loaded.rss - run.baseline.rss) / N;
console.log(
  `  heap ${kb(heapPer)}, rss ${kb(rssPer)} (heap ${mb(run.baseline.heapUsed)} → ` +
    `${mb(run.loaded.heapUsed)}, rss ${mb(run.baseline.rss)} → ${mb(run.loaded.rss)}; ` +
    `${n(run.waitingAtMeasure)} jobs on timers, ${run.quiet ? "none running" : "NOT quiet: some ran meanwhile"}).`,
);
if (!gcExposed()) console.log("  No --expose-gc: the memory figures include uncollected garbage.");

console.log("");
console.log(
  `Requests to each old server (its request log) in its busiest hour of ${s(HOUR_MS)}, ÷ the ` +
    `budget of ${n(WATCH.budgetPerHour)}; and the polls the budget granted, ÷ the same:`,
);
const rows = budgetRows(run, WATCH.budgetPerHour, HOUR_MS);
table([
  ["", "", "", "", "the budget's hours", "", "any hour", "", ""],
  [
    "server",
    "requests",
    "polls",
    "requests/poll",
    "requests",
    "polls",
    "requests",
    "polls",
    "taken",
  ],
  ...rows.map((r) => [
    r.domain,
    n(r.requests),
    n(r.polls),
    r2(r.requests / r.polls),
    r2(r.budgetHour),
    r2(r.pollsBudgetHour),
    r2(r.rolling),
    r2(r.pollsRolling),
    r2(r.takenRolling),
  ]),
]);
console.log(
  "  (the budget's hours: each opens with the first poll it grants after the last one closed; " +
    `any hour: every span of ${s(HOUR_MS)}; taken: the requests the budget let go, counted when it ` +
    "let them rather than when they arrived.)",
);
const worst = rows.reduce((a, b) => (b.budgetHour > a.budgetHour ? b : a));
/**
 * The budget-bound poll interval: every watch on a server polling in turn at the rate the
 * budget sustains hour after hour (its refill: the budget less its burst), each poll costing
 * what this run's polls cost on average (the lookup, and list pages when the count moved).
 * Past the poll interval, the watches on a server can't all poll every interval, however fast
 * this process is.
 */
const perPoll =
  rows.reduce((a, r) => a + r.requests, 0) /
  Math.max(
    1,
    rows.reduce((a, r) => a + r.polls, 0),
  );
// The refill spreads over the hour and the allowance for a request on its way (compressed).
const sustained =
  (sustainedPerHour(WATCH.budgetPerHour) * HOUR_MS) / (HOUR_MS + WATCH.budgetReachMs);
const boundMs = Math.max(WATCH.pollLateMs, (PER_HOST * perPoll * HOUR_MS) / sustained);
const budgetBound = boundMs > WATCH.pollLateMs;
const worstRolling = rows.reduce((a, b) => (b.rolling > a.rolling ? b : a));

console.log("");
console.log(
  `From the count settling (the last follower leaving) to the finished message: time = poll ` +
    `intervals of ${s(WATCH.pollLateMs)} = settle periods of ${s(WATCH.settleMs)}`,
);
const d = delays(run, WATCH.settleMs);
table([
  ["", "users", "p50", "p99", "max"],
  spreadRow("settled above zero", d.settled),
  spreadRow("reached zero", d.zero),
  spreadRow("  settling → last request", d.toLastRequest),
  spreadRow("  last request → message", d.lastRequestToMessage),
  spreadRow("between two polls of a watch", d.pollGaps),
]);
console.log(
  `  Expected: settled above zero ${r2((WATCH.settleMs - WATCH.pollLateMs) / WATCH.settleMs)}–` +
    `${r2((WATCH.settleMs + WATCH.pollLateMs) / WATCH.settleMs)} ` +
    "settle periods; reached zero at most 1 poll interval; between polls 1 interval" +
    (budgetBound
      ? ` — but the budget sustains ${n(sustained)} requests an hour per server (the budget less ` +
        `its burst), and this run's polls cost ${r2(perPoll)} requests each: each of ${n(PER_HOST)} ` +
        `watches on a server can poll only every ${r2(boundMs / WATCH.pollLateMs)} intervals ` +
        `(${s(boundMs)}), off the interval grid. The quiet is counted from the poll before the one ` +
        "that saw the last change, and that poll never ends the watch, so settled above zero " +
        `within max(settle, ${s(boundMs)}) + ${s(boundMs)} = ` +
        `${r2((Math.max(WATCH.settleMs, boundMs) + boundMs) / WATCH.settleMs)} settle periods, ` +
        `zero within ${s(boundMs)}.` +
        (boundMs > WATCH.settleMs
          ? " (Here an interval is longer than the settle, as production's never is: 48 h of quiet" +
            " against hours between polls.)"
          : "")
      : "."),
);

const m = messages(run);
console.log("");
console.log(
  `Finished messages: exactly one ${n(m.one)}, none ${n(m.none)}, more than one ${n(m.more)}; ` +
    `saved as finished without a message ${n(run.finishedSilently)}; still watching ` +
    `${n(run.stillWatching)}; wrong numbers ${n(run.wrongNumbers)}; 50%/90% messages ${n(run.milestones)}.`,
);
console.log(
  `Watch jobs at the end: ${Object.entries(run.jobStatus)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(", ")}. Last finished message ${s(run.lastFinishMs)} after the first poll.`,
);

console.log("");
console.log("Where the time went:");
console.log(
  `  event loop busy ${pct(run.loopBusy)} from the first poll to the end (${s(run.wallMs)}); ` +
    `timers ran late by p50 ${s(run.loopLag.p50)}, p99 ${s(run.loopLag.p99)}, max ${s(run.loopLag.max)}.`,
);
console.log(
  `  the store: ${n(run.storeRun.calls)} calls from the first poll to the end, some call in ` +
    `flight ${s(run.storeRun.busyMs)} of ${s(run.wallMs)} (${pct(run.storeRun.busyMs / run.wallMs)}); ` +
    `jobs.start() with every watch stored: ${ms(run.startMs)}.`,
);
console.log(
  `  store writes per watch: ${Object.entries(run.store.sets)
    .map(([k, v]) => `${k} ${r2(v / N)}`)
    .join(", ")}; leases taken / refused: ${Object.entries(run.store.leases)
    .map(([k, v]) => `${k} ${n(v.taken)} / ${n(v.refused)}`)
    .join(", ")}.`,
);
const failed = Object.entries(run.failures);
console.log(
  `  runs put off by the budget to a place in line later than asked: ${n(run.deniedRuns)}; lookups and list ` +
    `pages failed after retries: ${failed.length ? failed.map(([k, v]) => `${k} ${n(v)}`).join(", ") : "none"}.`,
);
if (!run.tornDown) console.log("  (closing the store or the stand-ins failed)");
const dropped =
  run.pollGaps.dropped +
  run.hosts.reduce((a, h) => a + h.requests.dropped + h.grants.dropped + h.taken.dropped, 0);
if (dropped > 0) console.log(`  ${n(dropped)} events didn't fit the bench's buffers: figures low.`);

console.log("");
console.log(
  `Target requests per hour ÷ budget ≤ ${r2(TARGET_BUDGET)}: ` +
    `${verdict(worst.budgetHour <= TARGET_BUDGET)} in the budget's hours (max ` +
    `${r2(worst.budgetHour)}, ${worst.domain}), ${verdict(worstRolling.rolling <= TARGET_BUDGET)} ` +
    `in any hour (max ${r2(worstRolling.rolling)}, ${worstRolling.domain}).`,
);
const settledOk = d.settled.max <= WATCH.settleMs + WATCH.pollLateMs + SLACK_MS;
const zeroOk = d.zero.max <= WATCH.pollLateMs + SLACK_MS;
console.log(
  `Target finished message within settle + 1 poll interval (+ ${s(SLACK_MS)}): ` +
    `${verdict(settledOk)} (max ${r2(d.settled.max / WATCH.settleMs)} settle periods); ` +
    `at zero within 1 poll interval: ${verdict(zeroOk)} (max ${r2(d.zero.max / WATCH.pollLateMs)} intervals).`,
);
if (budgetBound) {
  // The budget, not the interval, decides how often a watch polls: what counts is that each
  // end is decided at the first poll it can be, and how long the message took after that.
  const ownOk = d.laterThanOwnPoll.settled === 0 && d.laterThanOwnPoll.zero === 0;
  console.log(
    "Target bound by the budget: each end decided within settle + one of that watch's own poll " +
      "intervals since settling (two when one is longer than the settle: the poll that sees the " +
      `last change never ends it), at zero within one: ${verdict(ownOk)} ` +
      `(${n(d.laterThanOwnPoll.settled)} of ${n(d.settled.count)} settled above zero and ` +
      `${n(d.laterThanOwnPoll.zero)} of ${n(d.zero.count)} at zero later); then the message ` +
      `within p99 ${s(d.lastRequestToMessage.p99)}, max ${s(d.lastRequestToMessage.max)}. Against ` +
      `the estimated interval of ${s(boundMs)}: settled above zero max settle + ` +
      `${r2((d.settled.max - WATCH.settleMs) / boundMs)} × that, at zero max ${r2(d.zero.max / boundMs)} × that.`,
  );
}
if (d.lateExamples.length > 0) console.log(`  For example ${d.lateExamples.join("; ")}.`);
console.log(
  `Target exactly one finished message each: ${verdict(m.one === N)} ` +
    `(${n(m.none)} none, ${n(m.more)} more than one).`,
);
