/** The one table `npm run reliability` prints, and whether it passes. */

export interface Row {
  part: string;
  journeys: number;
  faultsInjected: number;
  crashesSurvived: number;
  inputsTried: number;
  lost: number;
  duplicates: number;
  secretsFound: number;
  /** Anything else that must not happen: a throw, a silent turn, a state changed by bad input. */
  problems: number;
  /** What this part found, beyond the figures. */
  notes: string[];
}

export const emptyRow = (part: string): Row => ({
  part,
  journeys: 0,
  faultsInjected: 0,
  crashesSurvived: 0,
  inputsTried: 0,
  lost: 0,
  duplicates: 0,
  secretsFound: 0,
  problems: 0,
  notes: [],
});

const COLUMNS: [string, (r: Row) => string | number][] = [
  ["part", (r) => r.part],
  ["journeys", (r) => r.journeys],
  ["faults injected", (r) => r.faultsInjected],
  ["crashes survived", (r) => r.crashesSurvived],
  ["inputs tried", (r) => r.inputsTried],
  ["items lost", (r) => r.lost],
  ["duplicates", (r) => r.duplicates],
  ["secrets found", (r) => r.secretsFound],
  ["other problems", (r) => r.problems],
];

export function total(rows: readonly Row[]): Row {
  const sum = (f: (r: Row) => number) => rows.reduce((n, r) => n + f(r), 0);
  return {
    part: "total",
    journeys: sum((r) => r.journeys),
    faultsInjected: sum((r) => r.faultsInjected),
    crashesSurvived: sum((r) => r.crashesSurvived),
    inputsTried: sum((r) => r.inputsTried),
    lost: sum((r) => r.lost),
    duplicates: sum((r) => r.duplicates),
    secretsFound: sum((r) => r.secretsFound),
    problems: sum((r) => r.problems),
    notes: [],
  };
}

/** A Markdown table (it reads as well in a terminal as in the README). */
export function table(rows: readonly Row[]): string {
  const all = [...rows, total(rows)];
  const cells = all.map((r) => COLUMNS.map(([, f]) => String(f(r))));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) =>
    `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(" | ")} |`;
  return [
    line(COLUMNS.map(([h]) => h)),
    `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`,
    ...cells.map(line),
  ].join("\n");
}

/** Any loss, duplicate, leak or other problem fails the run. */
export const passes = (rows: readonly Row[]): boolean => {
  const t = total(rows);
  return t.lost === 0 && t.duplicates === 0 && t.secretsFound === 0 && t.problems === 0;
};
