/**
 * Benchmark, not a test: simulated users take the first steps of the journey
 * (/start, their server, "Paste a token instead", their token, then
 * wait until the snapshot of their account arrives) through fedimove's real engine, World, SQLite store and job
 * runner, against the Mastodon stand-in in this process; then the same messages go
 * through a bare grammY bot with in-memory sessions. Printed side by side, as ratios.
 *
 * Time per message is the wall time of one engine.receive() (one handleUpdate())
 * minus what it spent awaiting remote calls, measured twice: with one user at a
 * time, which is the engine's own cost, and with 50 users at once, which adds
 * waiting for the one thread behind other users' turns, the export jobs, garbage
 * collection and the in-process stand-in, as a loaded process would.
 */
import { availableParallelism, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fedimoveSide } from "./lib/fedimove-side.js";
import { grammySide } from "./lib/grammy-baseline.js";
import { gcExposed, type Memory, pool, Samples, type Side, settledMemory } from "./lib/measure.js";

/** BENCH_ENGINE_USERS runs it smaller (a quick check on a shared machine): users, and as many alone. */
const USERS = Number(process.env.BENCH_ENGINE_USERS) || 1_000;
const CONCURRENCY = 50;
/** Users run first and not counted, so both sides are measured with warm JIT and full pools. */
const WARMUP = 50;
/** Users run one at a time after the memory is measured, for the engine's own cost. */
const ALONE = USERS;
/** /start, the server (the welcome asks for it at once), "Paste a token instead", the token. */
const MESSAGES = 4;
const FOLLOWS = 20;
const TARGET_P99_MS = 5;
const TARGET_BYTES_PER_USER = 10 * 1024;

interface Figures {
  loaded: Samples;
  loadedWallMs: number;
  /** How busy the event loop was in that pass: near 1, turns queue behind each other. */
  loadedBusy: number;
  alone: Samples;
  finished: number;
  perIdleUser: Memory;
}

async function measure(side: Side): Promise<Figures> {
  await pool(WARMUP, CONCURRENCY, (k) => side.journey(k));
  await side.idle();
  const loaded = new Samples(USERS * MESSAGES);
  const alone = new Samples(ALONE * MESSAGES);
  let finished = 0;
  const before = await settledMemory();

  const started = performance.now();
  const elu = performance.eventLoopUtilization();
  await pool(USERS, CONCURRENCY, async (k) => {
    if (await side.journey(WARMUP + k, loaded)) finished += 1;
  });
  await side.idle();
  const loadedWallMs = performance.now() - started;
  const loadedBusy = performance.eventLoopUtilization(elu).utilization;
  const after = await settledMemory();

  await pool(ALONE, 1, (k) => side.journey(WARMUP + USERS + k, alone));
  await side.idle();
  await side.close();
  return {
    loaded,
    loadedWallMs,
    loadedBusy,
    alone,
    finished,
    perIdleUser: {
      heapUsed: (after.heapUsed - before.heapUsed) / USERS,
      rss: (after.rss - before.rss) / USERS,
    },
  };
}

// ---- report ----------------------------------------------------------------------------

const ms = (x: number) => `${x.toFixed(x < 10 ? 3 : 1)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const ratio = (a: number, b: number) =>
  a > 0 && b > 0 ? `${(a / b).toFixed(a / b < 10 ? 2 : 0)}×` : "—";

function report(ours: Figures, grammy: Figures, totalMs: number, load: number): void {
  const rate = (f: Figures) => f.loaded.count / (f.loadedWallMs / 1000);
  const rows: string[][] = [["", "fedimove", "bare grammY", "fedimove ÷ grammY"]];
  const row = (label: string, show: (x: number) => string, get: (f: Figures) => number) =>
    rows.push([label, show(get(ours)), show(get(grammy)), ratio(get(ours), get(grammy))]);
  row(`messages/s, ${CONCURRENCY} at a time`, (x) => x.toFixed(0), rate);
  row("p50 per message, alone", ms, (f) => f.alone.percentile(50));
  row("p99 per message, alone", ms, (f) => f.alone.percentile(99));
  row("p99.9 per message, alone", ms, (f) => f.alone.percentile(99.9));
  row(`p50 per message, ${CONCURRENCY} at a time`, ms, (f) => f.loaded.percentile(50));
  row(`p99 per message, ${CONCURRENCY} at a time`, ms, (f) => f.loaded.percentile(99));
  row("heap per idle user", kb, (f) => f.perIdleUser.heapUsed);
  row("rss per idle user", kb, (f) => f.perIdleUser.rss);

  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const seconds = (x: number) => `${(x / 1000).toFixed(x < 1000 ? 2 : 1)} s`;
  const awaited = (s: Samples) => ms(s.remoteMs / s.count);
  console.log(
    `${USERS} users × ${MESSAGES} messages, ${CONCURRENCY} at a time; then ${ALONE} more, alone.`,
  );
  console.log(
    `SQLite store; Mastodon stand-in in this process; ${FOLLOWS} follows a user; ` +
      `${WARMUP} warm-up users first, not counted.`,
  );
  console.log(
    `Load average ${load.toFixed(1)} on ${availableParallelism()} CPUs at the start ` +
      "(other work on the machine makes p99 noisy).",
  );
  for (const r of rows)
    console.log(
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join("  "),
    );
  console.log(`fedimove: ${ours.finished}/${USERS} snapshots delivered.`);
  console.log(
    `Remote calls awaited per message, left out above: ${awaited(ours.loaded)} ` +
      `${CONCURRENCY} at a time, ${awaited(ours.alone)} alone.`,
  );
  console.log(
    `Event loop busy during the ${CONCURRENCY}-at-a-time pass: fedimove ${pct(ours.loadedBusy)} ` +
      `of ${seconds(ours.loadedWallMs)}, grammY ${pct(grammy.loadedBusy)} of ` +
      `${seconds(grammy.loadedWallMs)}. Whole run ${seconds(totalMs)}.`,
  );
  if (!gcExposed()) console.log("No --expose-gc: the memory figures include uncollected garbage.");

  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  const alone99 = ours.alone.percentile(99);
  const loaded99 = ours.loaded.percentile(99);
  console.log(
    `Target p99 engine time < ${TARGET_P99_MS} ms: ` +
      `${verdict(alone99 < TARGET_P99_MS)} alone (${ms(alone99)}), ` +
      `${verdict(loaded99 < TARGET_P99_MS)} ${CONCURRENCY} at a time (${ms(loaded99)}).`,
  );
  const heap = ours.perIdleUser.heapUsed;
  console.log(
    `Target memory per idle user < ${kb(TARGET_BYTES_PER_USER)}: ` +
      `${verdict(heap < TARGET_BYTES_PER_USER)} (heap ${kb(heap)}; ` +
      "rss is the process's high-water mark, not state kept per user).",
  );
}

const load = loadavg()[0]!;
const begun = performance.now();
// grammY first, while the process is small, so its rss figure means something.
const grammy = await measure(grammySide());
const ours = await measure(await fedimoveSide({ users: WARMUP + USERS + ALONE, follows: FOLLOWS }));
report(ours, grammy, performance.now() - begun, load);
