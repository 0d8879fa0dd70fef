/**
 * The CSV reader takes its text in pieces: whatever the cut, it must find the same
 * rows on the same lines as in one piece, refuse the same malformed file, and stop
 * reading (pulling no more pieces) the moment a limit is passed.
 */
import { describe, expect, it } from "vitest";
import {
  type CsvEnd,
  type CsvLimits,
  CsvReader,
  type CsvRow,
  readCsvRows,
} from "../../src/formats/csv-lines.js";
import type { TextPiece } from "../../src/formats/text-file.js";

const ROOMY: CsvLimits = { maxBlankRows: 1_000, maxRowChars: 1_000 };

/** Reads `pieces` with the synchronous reader, collecting every row. */
function read(pieces: readonly string[], limits = ROOMY): { rows: CsvRow[]; end: CsvEnd } {
  const rows: CsvRow[] = [];
  const reader = new CsvReader(collect(rows), limits);
  for (const piece of pieces) {
    const over = reader.push(piece);
    if (over) return { rows, end: over };
  }
  return { rows, end: reader.end() };
}

/** Every way to cut `text` in two, and in one-character pieces. */
function cuts(text: string): string[][] {
  const twos = Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);
  return [...twos, [...text]];
}

const collect =
  (rows: CsvRow[]) =>
  (row: CsvRow): "more" => {
    rows.push(row);
    return "more";
  };

/** `head`, then `times` times `piece`, counting how many pieces were taken. */
function counted(piece: string, times: number, head?: string) {
  const seen = { pulled: 0 };
  function* pieces(): Generator<TextPiece> {
    if (head !== undefined) yield { ok: true, text: head };
    for (let i = 0; i < times; i++) {
      seen.pulled += 1;
      yield { ok: true, text: piece };
    }
  }
  return { pieces: pieces(), seen };
}

describe("CsvReader: rows and their lines, however the text is cut", () => {
  const text = [
    "Account address,Show boosts,Notify on new posts,Languages", // 1
    'alice@a.example,true,false,"en,', // 2: a quoted cell over two lines
    'de"', // 3
    "", // 4
    '"say ""hi""",,,', // 5: escaped quotes
    " , ,", // 6: blank, though it has commas
    '"bob@b.example"  ,false,,', // 7: spaces after a closing quote
    "carol@c.example", // 8, no newline at the end
  ].join("\n");
  const expected: CsvRow[] = [
    {
      line: 1,
      cells: ["Account address", "Show boosts", "Notify on new posts", "Languages"],
    },
    { line: 2, cells: ["alice@a.example", "true", "false", "en,\nde"] },
    { line: 5, cells: ['say "hi"', "", "", ""] },
    { line: 7, cells: ["bob@b.example", "false", "", ""] },
    { line: 8, cells: ["carol@c.example"] },
  ];

  it("reads the text in one piece", () => {
    expect(read([text])).toEqual({ rows: expected, end: { ok: true, stopped: false } });
  });

  it("reads the same rows from every cut", () => {
    for (const pieces of cuts(text)) {
      expect(read(pieces), JSON.stringify(pieces)).toEqual({
        rows: expected,
        end: { ok: true, stopped: false },
      });
    }
  });

  it("refuses a quote that never closes, or one in the wrong place, by its line, from every cut", () => {
    const unclosed = 'alice@a.example\n\n"bob@b.example,true\ncarol@c.example\n';
    const misplaced = 'alice@a.example\n"bob"x@b.example,true\ncarol@c.example\n';
    for (const pieces of cuts(unclosed)) {
      expect(read(pieces).end).toEqual({
        ok: false,
        reason: "This file isn't valid CSV: on line 3 a quoted field never ends.",
      });
    }
    for (const pieces of cuts(misplaced)) {
      expect(read(pieces).end).toEqual({
        ok: false,
        reason: "This file isn't valid CSV: on line 2 a quote is in the wrong place.",
      });
    }
  });
});

describe("readCsvRows: stops the moment a limit is passed", () => {
  const limits: CsvLimits = { maxBlankRows: 2_500, maxRowChars: 5_000 };

  it("after more blank lines than the limit, taking no more pieces", async () => {
    const { pieces, seen } = counted("\n".repeat(1_000), 1_000);
    const rows: CsvRow[] = [];
    const end = await readCsvRows(pieces, collect(rows), limits);
    expect(end).toEqual({
      ok: false,
      reason:
        "This file has more than 2,500 blank lines; I take at most 2,500 per file. Delete them and send it again.",
    });
    expect(rows).toEqual([]);
    expect(seen.pulled).toBe(3);
  });

  it("at a line longer than the limit, before its end has come", async () => {
    const { pieces, seen } = counted("x".repeat(1_000), 1_000);
    const end = await readCsvRows(pieces, () => "more", limits);
    expect(end).toEqual({
      ok: false,
      reason:
        "This file has a line over 5,000 characters long (line 1); a follows file has one account a line. Check it's the right file and send it again.",
    });
    expect(seen.pulled).toBe(6);
  });

  it("takes a line of just the limit's length, in one piece or cut anywhere", () => {
    const text = `a@b.example\n${"y".repeat(5_000)}\nc@d.example`;
    // Cut just before, inside and just after the long line and its line end.
    const at = [11, 12, 13, 2_500, 5_011, 5_012, 5_013, 5_014];
    for (const pieces of [[text], ...at.map((i) => [text.slice(0, i), text.slice(i)])]) {
      expect(read(pieces, limits).end).toEqual({ ok: true, stopped: false });
    }
  });

  it("at a long line inside one piece, naming its line", () => {
    const end = read([`a@b.example\n\n${"y".repeat(5_001)}\nc@d.example\n`], limits).end;
    expect(end).toEqual({ ok: false, reason: expect.stringContaining("(line 3)") });
  });

  it("at a quoted field that runs on over many lines", async () => {
    const head = 'a@b.example\n"c@d.example,';
    const { pieces, seen } = counted("e@f.example\n".repeat(100), 1_000, head);
    const end = await readCsvRows(pieces, () => "more", limits);
    expect(end).toEqual({
      ok: false,
      reason:
        "This file isn't valid CSV: on line 2 a quoted field runs on for more than 5,000 characters.",
    });
    expect(seen.pulled).toBeLessThan(10);
  });

  it("when the caller has all it needs", async () => {
    const { pieces, seen } = counted("a@b.example\n".repeat(100), 1_000);
    const rows: CsvRow[] = [];
    const end = await readCsvRows(pieces, (r) => (rows.push(r) === 250 ? "stop" : "more"), limits);
    expect(end).toEqual({ ok: true, stopped: true });
    expect(rows.at(-1)).toEqual({ line: 250, cells: ["a@b.example"] });
    expect(seen.pulled).toBe(3);
  });

  it("at a piece that couldn't be decoded, with its reason", async () => {
    const pieces: TextPiece[] = [
      { ok: true, text: "a@b.example\n" },
      { ok: false, reason: "binary" },
      { ok: true, text: "c@d.example\n" },
    ];
    const rows: CsvRow[] = [];
    const end = await readCsvRows(pieces, collect(rows), limits);
    expect(end).toEqual({ ok: false, reason: "binary" });
    expect(rows).toEqual([{ line: 1, cells: ["a@b.example"] }]);
  });
});
