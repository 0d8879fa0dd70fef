/**
 * CSV text → rows of cells, each with the line of the file it starts on, so a
 * bad row can be reported as "line 7" and the user finds it in their editor.
 *
 * papaparse doesn't say where a row starts, and its own skipEmptyLines would
 * drop rows we need to count lines past. So it parses every line, and blank rows
 * are skipped here instead (like its "greedy" mode and Ruby's skip_blanks). The
 * text must have "\n" line ends only (see text-file.ts): then a row covers one
 * line plus one more per "\n" inside its quoted cells.
 *
 * The text comes in pieces, and each row is handed on as soon as it is complete:
 * papaparse over a whole 20 MB file of blank lines builds 20 million rows (2 GB,
 * 10 s in one block) before anyone can count them. Each piece is parsed with the
 * unfinished row carried over from the one before, the way papaparse's own
 * streaming does it, and the last row of a piece is held back because the next
 * piece may continue it. Reading stops the moment a limit is passed, and other
 * users' turns run between pieces (time-slice.ts).
 */
import Papa from "papaparse";
import type { TextPiece } from "./text-file.js";
import { timeSlicer } from "./time-slice.js";

export type CsvRow = { line: number; cells: string[] };

export type CsvLimits = {
  /** Blank rows past this many refuse the file: they cost as much to read as real ones. */
  maxBlankRows: number;
  /** One row longer than this (in characters) refuses the file, before all of it is read. */
  maxRowChars: number;
};

/** What the caller says to each non-blank row: go on, or stop here (it has what it needs). */
export type OnRow = (row: CsvRow) => "more" | "stop";

export type CsvEnd = { ok: true; stopped: boolean } | { ok: false; reason: string };

const OPTIONS = {
  // Fixed, never guessed: a one-column list of handles has no delimiter to find.
  delimiter: ",",
  newline: "\n",
  quoteChar: '"',
  skipEmptyLines: false,
} as const;

/** A row papaparse has parsed: where it starts and ends in the text it was given, and its length without the line end. */
type Parsed = {
  cells: string[];
  errors: Papa.ParseError[];
  start: number;
  end: number;
  length: number;
};

/** Feeds the rows of pieces of CSV text to `onRow`, letting the event loop run between pieces. */
export async function readCsvRows(
  pieces: Iterable<TextPiece>,
  onRow: OnRow,
  limits: CsvLimits,
): Promise<CsvEnd> {
  const reader = new CsvReader(onRow, limits);
  const slice = timeSlicer();
  for (const piece of pieces) {
    if (!piece.ok) return piece;
    const over = reader.push(piece.text);
    if (over) return over;
    await slice();
  }
  return reader.end();
}

/** The piece-by-piece reader itself, synchronous: `push` each piece, then `end`. */
export class CsvReader {
  /** The start of a row that the next piece may continue. */
  #pending = "";
  /** The line the next row starts on. */
  #line = 1;
  #blankRows = 0;
  readonly #onRow: OnRow;
  readonly #limits: CsvLimits;

  constructor(onRow: OnRow, limits: CsvLimits) {
    this.#onRow = onRow;
    this.#limits = limits;
  }

  /** How reading ended, if this piece ended it; undefined means "send the next piece". */
  push(text: string): CsvEnd | undefined {
    return this.#parse(this.#pending + text, false);
  }

  /** There is no more text: the row held back is the last. */
  end(): CsvEnd {
    return this.#parse(this.#pending, true) ?? { ok: true, stopped: false };
  }

  #parse(text: string, final: boolean): CsvEnd | undefined {
    let held: Parsed | undefined;
    let over: CsvEnd | undefined;
    Papa.parse<string[]>(text, {
      ...OPTIONS,
      step: (result, parser) => {
        // A row is complete once papaparse has started the next one.
        if (held) over = this.#take(held);
        if (over) return parser.abort();
        const start = held?.end ?? 0;
        const end = result.meta.cursor;
        const length = end - start - (text[end - 1] === "\n" ? 1 : 0);
        held = { cells: result.data, errors: result.errors, start, end, length };
      },
    });
    if (over) return over;
    if (final) return held ? this.#take(held) : undefined;
    // papaparse's own streaming also re-reads the unfinished row with the next piece.
    this.#pending = held ? text.slice(held.start) : text;
    if (this.#pending.length > this.#limits.maxRowChars)
      return this.#tooLong(this.#line, this.#pending.includes("\n"));
    return undefined;
  }

  /** One complete row: counted, checked, and handed on unless it is blank. */
  #take(row: Parsed): CsvEnd | undefined {
    const line = this.#line;
    let inner = 0;
    for (const c of row.cells) inner += countNewlines(c);
    this.#line += inner + 1;

    // Mastodon refuses a malformed CSV outright; so do we, since after a quote that
    // never closes every later line would be swallowed into one cell.
    const quoteError = row.errors.find((e) => e.type === "Quotes");
    if (quoteError) {
      const what =
        quoteError.code === "MissingQuotes"
          ? "a quoted field never ends"
          : "a quote is in the wrong place";
      return { ok: false, reason: `This file isn't valid CSV: on line ${line} ${what}.` };
    }
    if (row.length > this.#limits.maxRowChars) return this.#tooLong(line, inner > 0);

    if (row.cells.some((c) => c.trim() !== "")) {
      return this.#onRow({ line, cells: row.cells }) === "stop"
        ? { ok: true, stopped: true }
        : undefined;
    }
    this.#blankRows += 1;
    if (this.#blankRows <= this.#limits.maxBlankRows) return undefined;
    const most = this.#limits.maxBlankRows.toLocaleString("en-US");
    return {
      ok: false,
      reason:
        `This file has more than ${most} blank lines; I take at most ${most} per file. ` +
        "Delete them and send it again.",
    };
  }

  /** A row over the limit: most likely an unclosed quote if it runs over lines, else not a list of accounts. */
  #tooLong(line: number, overLines: boolean): CsvEnd {
    const most = this.#limits.maxRowChars.toLocaleString("en-US");
    return {
      ok: false,
      reason: overLines
        ? `This file isn't valid CSV: on line ${line} a quoted field runs on for more than ${most} characters.`
        : `This file has a line over ${most} characters long (line ${line}); a follows file has one account a line. ` +
          "Check it's the right file and send it again.",
    };
  }
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf("\n"); i !== -1; i = s.indexOf("\n", i + 1)) n++;
  return n;
}
