/**
 * npm run reliability: the whole journey under faults, fuzzed input, SIGKILLs, and a search of
 * every store for the secrets it was given. Prints one table (journeys, faults injected, crashes
 * survived, inputs tried, items lost, duplicates, secrets found) and exits 1 when anything was
 * lost, done twice or leaked. Takes minutes; test/reliability/ runs a small version of each part
 * in `npm test`.
 *
 *   npm run reliability                 every part, full size
 *   npm run reliability -- faults fuzz  only these parts
 *   RELIABILITY_SEED=7 npm run reliability
 */

import { JOURNEY } from "../src/steps/index.js";
import { runCrashes } from "./lib/reliability/crash.js";
import { runFaults } from "./lib/reliability/faults.js";
import { runFuzz } from "./lib/reliability/fuzz.js";
import { runSecrets } from "./lib/reliability/secrets.js";
import { emptyRow, passes, type Row, table } from "./lib/reliability/table.js";

const seed = Number(process.env.RELIABILITY_SEED ?? 20261203);

const PARTS: Record<string, () => Promise<Row>> = {
  async faults() {
    const f = await runFaults({ people: 100, rate: 0.1, seed, deadlineMs: 900_000 });
    return {
      ...emptyRow("faults (10% of requests)"),
      journeys: f.journeys,
      faultsInjected: f.faultsInjected,
      lost: f.lost,
      duplicates: f.duplicates,
      notes: [`${f.finished} of ${f.journeys} journeys finished`, ...f.notes],
    };
  },
  async fuzz() {
    // Typed text is all a DM carries: fewer inputs a place there, on each of its two trait sets.
    const f = await runFuzz({ perStep: 1000, dmPerStep: 300, seed });
    // A step neither fuzzed nor excused is a gap in the proof: it fails the run.
    const problems =
      f.crashes +
      f.unhandledRejections +
      f.silent +
      f.stateChanged +
      f.stepsMissed.length +
      f.unbuilt.length;
    const excused = Object.entries(f.excused).map(([step, why]) => `${step} (${why})`);
    return {
      ...emptyRow("fuzz (1,000 inputs a step)"),
      journeys: 1,
      inputsTried: f.inputsTried,
      problems,
      notes: [
        `${f.crashes} threw, ${f.unhandledRejections} unhandled rejections, ${f.silent} without a reply, ${f.stateChanged} changed the state`,
        `registry steps fuzzed: ${f.stepsFuzzed.length} of ${JOURNEY.length}; excused: ${excused.join(", ") || "none"}; neither: ${f.stepsMissed.join(", ") || "none"}; no state built: ${f.unbuilt.join(", ") || "none"}`,
        `places (${f.places.length}): ${f.places.join("; ")}`,
        `slowest places: ${Object.entries(f.msByPlace)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([p, ms]) => `${p} ${(ms / 1000).toFixed(1)} s`)
          .join(", ")}`,
        ...f.notes,
      ],
    };
  },
  async secrets() {
    const row = emptyRow("secrets (SQLite, Redis, PostgreSQL)");
    for (const backend of ["sqlite", "redis", "postgres"] as const) {
      const f = await runSecrets(backend, 10, { rate: 0.1, seed });
      row.journeys += f.journeys;
      row.faultsInjected += f.faultsInjected;
      row.lost += f.journeys - f.finished;
      row.secretsFound += f.found.length;
      if (!f.handlesSeen) row.problems += 1;
      row.notes.push(
        `${backend}: ${f.finished} of ${f.journeys} journeys finished (${f.faultsInjected} faults), ${f.secretsUsed} tokens and codes looked for in ${Object.entries(
          f.searched,
        )
          .map(([k, v]) => `${k} (${v} chars)`)
          .join(", ")}: ${f.found.length === 0 ? "none found" : f.found.join("; ")}`,
      );
    }
    return row;
  },
  async crashes() {
    const f = await runCrashes({
      people: 4,
      kills: 20,
      seed,
      maxLifeMs: 5000,
      deadlineMs: 600_000,
    });
    return {
      ...emptyRow("crashes (SIGKILL, restart)"),
      journeys: f.journeys,
      crashesSurvived: f.crashesSurvived,
      lost: f.lost,
      // A reply sent twice is a duplicate too (the reply outbox is what prevents it).
      duplicates: f.duplicates + f.repeatedReplies,
      secretsFound: f.secretsFound,
      problems: f.problems,
      notes: [
        `${f.finished} of ${f.journeys} journeys finished; ${f.repeatedReplies} bot messages sent twice in a row unasked (${f.sameInARow} the same as the one before, most answering a /status sent again while the bot was down); ${f.logChars} characters of the bot processes' output searched`,
        ...f.notes,
      ],
    };
  },
};

const chosen = process.argv.slice(2).filter((a) => a in PARTS);
const rows: Row[] = [];
for (const name of chosen.length > 0 ? chosen : Object.keys(PARTS)) {
  const started = Date.now();
  const row = await PARTS[name]!();
  row.notes.unshift(`${Math.round((Date.now() - started) / 1000)} s`);
  rows.push(row);
}
console.log(`\nseed ${seed}\n`);
console.log(table(rows));
for (const r of rows) console.log(`\n${r.part}:\n  ${r.notes.join("\n  ")}`);
const ok = passes(rows);
console.log(ok ? "\nNothing lost, nothing twice, nothing leaked." : "\nFAILED: see above.");
process.exit(ok ? 0 : 1);
