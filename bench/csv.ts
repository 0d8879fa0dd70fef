/**
 * Benchmark, not a test: reading an uploaded follows file (parseFollowsFile, what the
 * old-csv step runs on a user's upload) while the event loop should stay free for other
 * users' turns. Each file is read in its own process (so one file's memory doesn't count
 * against the next), after a warm-up read of a small file. Prints, for each file:
 *
 *  - the longest the event loop was blocked while the file was read (the longest gap
 *    between two runs of a 1 ms setInterval, which also catches a block that starts with
 *    the read itself) ÷ 50 ms: a Telegram update or another user's turn waiting 50 ms is
 *    not noticed, and a lease (10 s) never comes close;
 *  - the time to the answer ÷ its target: 100 ms for a file refused by a cap (a user gets
 *    the refusal at once, and the bot spends no more on it), 1 s for 20,000 good rows (the
 *    largest file we take) and for 100,000 (refused, but still counted so the refusal can
 *    say how many parts to split it into);
 *  - RSS growth (the highest RSS seen during and just after the read, minus the RSS before
 *    it, with the file's bytes already in memory) ÷ 64 MB: a few such uploads at once
 *    must fit a small VPS.
 *
 * A ratio ≤ 1 meets the target. `node --expose-gc --import tsx bench/csv.ts` runs them all;
 * one file's name as the argument reads just that one, in this process.
 */
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { followingCsv } from "../src/formats/following-csv.js";
import { MAX_FILE_BYTES, parseFollowsFile } from "../src/formats/follows-import.js";
import type { FollowRow } from "../src/model/state.js";

const BLOCK_TARGET_MS = 50;
const REFUSAL_TARGET_MS = 100;
const READ_TARGET_MS = 1_000;
const RSS_TARGET_BYTES = 64 * 1024 * 1024;

const follows = (n: number): FollowRow[] =>
  Array.from({ length: n }, (_, i) => ({
    acct: `user${i}@s${i % 97}.example`,
    reblogs: i % 3 !== 0,
    notify: i % 5 === 0,
    // Every tenth row quoted ("en, de"), as a real export has some: papaparse's slow path.
    languages: i % 10 === 0 ? ["en", "de"] : null,
  }));

const utf8 = (s: string) => new TextEncoder().encode(s);

/** `head`, then the byte `fill` up to exactly 20 MB. */
function padded(head: string, fill: number): Uint8Array {
  const bytes = new Uint8Array(MAX_FILE_BYTES).fill(fill);
  bytes.set(utf8(head));
  return bytes;
}

interface Case {
  name: string;
  targetMs: number;
  bytes: () => Uint8Array;
}

const CASES: Case[] = [
  {
    // After one handle, so that the file isn't simply empty.
    name: "20 MB of blank lines",
    targetMs: REFUSAL_TARGET_MS,
    bytes: () => padded("alice@a.example\n", 0x0a),
  },
  {
    name: "20 MB of blank CRLF lines",
    targetMs: REFUSAL_TARGET_MS,
    bytes: () => utf8(`alice@a.example\r\n${"\r\n".repeat((MAX_FILE_BYTES - 17) / 2)}`),
  },
  {
    name: "20 MB in one cell",
    targetMs: REFUSAL_TARGET_MS,
    bytes: () => new Uint8Array(MAX_FILE_BYTES).fill(0x61),
  },
  {
    name: "20 MB after a quote that never closes",
    targetMs: REFUSAL_TARGET_MS,
    bytes: () => utf8(`"${"a@b.example\n".repeat(Math.floor((MAX_FILE_BYTES - 1) / 12))}`),
  },
  {
    name: "20,000 valid rows",
    targetMs: READ_TARGET_MS,
    bytes: () => utf8(followingCsv(follows(20_000))),
  },
  {
    name: "100,000 valid rows",
    targetMs: READ_TARGET_MS,
    bytes: () => utf8(followingCsv(follows(100_000))),
  },
];

interface Figures {
  answer: string;
  blockMs: number;
  answerMs: number;
  rssGrowth: number;
}

/** Reads one file in this process and measures it. */
async function measure(c: Case): Promise<Figures> {
  await parseFollowsFile(utf8(followingCsv(follows(100))), "warm-up.csv");
  const bytes = c.bytes();
  globalThis.gc?.();
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 1);
  await sleep(5);
  const start = performance.now();
  longest = 0;
  last = start;
  const result = await parseFollowsFile(bytes, "following_accounts.csv");
  const answerMs = performance.now() - start;
  // One more tick, which measures a block that ended with the read.
  await sleep(5);
  clearInterval(ticker);
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  return {
    answer: result.ok ? `read ${result.rows.length} accounts` : result.reason,
    blockMs: longest,
    answerMs,
    rssGrowth: rssPeak - rssBefore,
  };
}

const ratio = (x: number) => x.toFixed(2);
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;

function report(c: Case, f: Figures): string {
  return [
    `${c.name}: ${f.answer.length > 90 ? `${f.answer.slice(0, 90)}…` : f.answer}`,
    `  longest block ${f.blockMs.toFixed(1)} ms ÷ ${BLOCK_TARGET_MS} ms = ${ratio(f.blockMs / BLOCK_TARGET_MS)}`,
    `  answer in ${f.answerMs.toFixed(1)} ms ÷ ${c.targetMs} ms = ${ratio(f.answerMs / c.targetMs)}`,
    `  RSS growth ${mb(f.rssGrowth)} ÷ ${mb(RSS_TARGET_BYTES)} = ${ratio(f.rssGrowth / RSS_TARGET_BYTES)}`,
  ].join("\n");
}

const only = process.argv[2];
if (only !== undefined) {
  const c = CASES.find((x) => x.name === only);
  if (!c) throw new Error(`no such file: ${only}`);
  console.log(JSON.stringify(await measure(c)));
} else {
  console.log(
    `Reading follows files (node ${process.version}; GC ${globalThis.gc ? "exposed" : "not exposed: RSS includes garbage"})`,
  );
  const self = fileURLToPath(import.meta.url);
  let worst = 0;
  for (const c of CASES) {
    const out = execFileSync(process.execPath, [...process.execArgv, self, c.name], {
      encoding: "utf8",
      maxBuffer: 1024 * 1024,
    });
    const f = JSON.parse(out.trim().split("\n").at(-1)!) as Figures;
    console.log(report(c, f));
    worst = Math.max(
      worst,
      f.blockMs / BLOCK_TARGET_MS,
      f.answerMs / c.targetMs,
      f.rssGrowth / RSS_TARGET_BYTES,
    );
  }
  console.log(`Worst ratio: ${ratio(worst)} (target ≤ 1)`);
}
