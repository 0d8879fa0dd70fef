/**
 * CSV text → rows of cells, each with the line of the file it starts on, so a
 * bad row can be reported as "line 7" and the user finds it in their editor.
 *
 * papaparse doesn't say where a row starts, and its own skipEmptyLines would
 * drop rows we need to count lines past. So it parses every line, and blank rows
 * are skipped here instead (like its "greedy" mode and Ruby's skip_blanks). The
 * text must have "\n" line ends only (see text-file.ts): then a row covers one
 * line plus one more per "\n" inside its quoted cells.
 */
import Papa from "papaparse";

export type CsvRow = { line: number; cells: string[] };
export type CsvRows = { ok: true; rows: CsvRow[] } | { ok: false; reason: string };

export function readCsvRows(text: string): CsvRows {
  const parsed = Papa.parse<string[]>(text, {
    // Fixed, never guessed: a one-column list of handles has no delimiter to find.
    delimiter: ",",
    newline: "\n",
    quoteChar: '"',
    skipEmptyLines: false,
  });

  const rows: CsvRow[] = [];
  const lineOfRow: number[] = [];
  let line = 1;
  for (const cells of parsed.data) {
    lineOfRow.push(line);
    if (cells.some((c) => c.trim() !== "")) rows.push({ line, cells });
    for (const c of cells) line += countNewlines(c);
    line += 1;
  }

  // Mastodon refuses a malformed CSV outright; so do we, since after a quote that
  // never closes every later line would be swallowed into one cell.
  const quoteError = parsed.errors.find((e) => e.type === "Quotes");
  if (quoteError) {
    const at = quoteError.row === undefined ? undefined : lineOfRow[quoteError.row];
    const where = at === undefined ? "" : ` on line ${at}`;
    const what =
      quoteError.code === "MissingQuotes"
        ? "a quoted field never ends"
        : "a quote is in the wrong place";
    return { ok: false, reason: `This file isn't valid CSV:${where} ${what}.` };
  }
  return { ok: true, rows };
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf("\n"); i !== -1; i = s.indexOf("\n", i + 1)) n++;
  return n;
}
