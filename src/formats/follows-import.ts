/**
 * Reads the follows file a user uploads instead of signing in to their old
 * server: Mastodon's following_accounts.csv (today's four columns, or the older
 * one- and two-column exports), or a bare list of handles, one a line.
 *
 * The rules are Mastodon's own import (app/models/form/import.rb), so a file we
 * accept is one Mastodon would accept: 20 MB, 20,000 rows, headers by name, a
 * header-less file read as one "Account address" column, `@` stripped, booleans
 * `true`/`false`. We are stricter per row (a handle must name its server, a
 * boolean can't be "yes") and report each bad row by its line, while the good
 * rows still go through: one typo shouldn't block moving a thousand follows.
 *
 * Reading never holds the event loop for long (other users' turns wait behind it):
 * the file is read a piece at a time (csv-lines.ts), rows past the limit are counted
 * but neither kept nor checked, and the checking lets the event loop run every few
 * milliseconds (time-slice.ts).
 */
import { z } from "zod";
import { AccountAddress, quoted } from "../model/handle.js";
import { FollowRow } from "../model/state.js";
import { type CsvLimits, type CsvRow, readCsvRows } from "./csv-lines.js";
import { guessExportKind, notFollowsReason } from "./export-kind.js";
import { textPieces } from "./text-file.js";
import { timeSlicer } from "./time-slice.js";

/** Form::Import::FILE_SIZE_LIMIT (Rails megabytes are MiB). */
export const MAX_FILE_BYTES = 20 * 1024 * 1024;
/** Form::Import::ROWS_PROCESSING_LIMIT. */
export const MAX_ROWS = 20_000;
/**
 * Past MAX_ROWS, rows are still counted, so the refusal can say how many parts to
 * split the file into; past this many, "more than" will do, and reading stops.
 */
export const MAX_COUNTED_ROWS = 5 * MAX_ROWS;

/**
 * Ours, not Mastodon's, which reads the whole file first: blank lines are skipped,
 * but a file of nothing else costs as much to read as one of accounts. As many as
 * there may be accounts, so even a list with a blank line after each one is read.
 * And one line (or quoted cell) longer than any account's row stops the reading
 * there: an account address is at most a few hundred characters, and a row holds
 * one and three short columns.
 */
export const LIMITS: CsvLimits = { maxBlankRows: MAX_ROWS, maxRowChars: 10_000 };

export type BadRow = { line: number; reason: string };
export type FollowsImport =
  | { ok: true; rows: FollowRow[]; bad: BadRow[]; header: "mastodon" | "none" }
  | { ok: false; reason: string };

export const REASON_TOO_BIG =
  "This file is over 20 MB; Mastodon and I take at most 20 MB per file. Split it and send the parts.";
export const REASON_EMPTY = "The file is empty.";

const COLUMNS = {
  acct: "account address",
  reblogs: "show boosts",
  notify: "notify on new posts",
  languages: "languages",
} as const;

/** Every header name Mastodon's imports know: any of them first means "this row is a header". */
const KNOWN_HEADERS = new Set([
  ...Object.values(COLUMNS),
  "hide notifications",
  "#domain",
  "#uri",
  "list name",
]);

/** `true`/`false` in any case; empty means Mastodon's default for a new follow. */
function flag(column: string, fallback: boolean) {
  return z.string().transform((cell, ctx) => {
    const v = cell.trim().toLowerCase();
    if (v === "") return fallback;
    if (v === "true" || v === "false") return v === "true";
    ctx.addIssue({
      code: "custom",
      message: `${column} must be true or false, not ${quoted(cell.trim())}`,
    });
    return z.NEVER;
  });
}

/** "en, de" → ["en", "de"]; nothing → null, as Mastodon stores "all languages". */
const Languages = z.string().transform((cell, ctx) => {
  const codes = cell
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  const wrong = codes.find((c) => !/^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$/i.test(c));
  if (wrong !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: `Languages must be language codes like "en, de", not ${quoted(wrong)}`,
    });
    return z.NEVER;
  }
  return codes.length > 0 ? codes : null;
});

/** One row's cells by column (missing columns are ""), checked and shaped into a FollowRow. */
const FollowCells = z
  .object({
    acct: AccountAddress,
    reblogs: flag("Show boosts", true),
    notify: flag("Notify on new posts", false),
    languages: Languages,
  })
  .pipe(FollowRow);

export async function parseFollowsFile(bytes: Uint8Array, name?: string): Promise<FollowsImport> {
  // Before decoding anything: a huge upload shouldn't cost us the memory to read it.
  if (bytes.length > MAX_FILE_BYTES) return { ok: false, reason: REASON_TOO_BIG };

  // The first row, which may be a header, and MAX_ROWS more: all that can be taken.
  const kept: CsvRow[] = [];
  let seen = 0;
  const read = await readCsvRows(
    textPieces(bytes),
    (row) => {
      seen += 1;
      if (kept.length <= MAX_ROWS) kept.push(row);
      // Stops once there are more data rows than counted, header or not.
      return seen > MAX_COUNTED_ROWS + 1 ? "stop" : "more";
    },
    LIMITS,
  );
  if (!read.ok) return read;
  if (kept.length === 0) return { ok: false, reason: REASON_EMPTY };

  const first = kept[0]!;
  const hasHeader = KNOWN_HEADERS.has(normalHeader(first.cells[0]!));
  const headers = hasHeader ? first.cells.map(normalHeader) : null;
  const dataRows = hasHeader ? kept.slice(1) : kept;

  const kind = guessExportKind(headers, name, dataRows);
  if (kind !== undefined && kind !== "following")
    return { ok: false, reason: notFollowsReason(kind) };

  // Header-less: Mastodon's default for follows is the one column, extra cells ignored.
  const column = (key: keyof typeof COLUMNS): number =>
    headers ? headers.indexOf(COLUMNS[key]) : key === "acct" ? 0 : -1;
  const at = {
    acct: column("acct"),
    reblogs: column("reblogs"),
    notify: column("notify"),
    languages: column("languages"),
  };
  if (at.acct === -1) {
    return {
      ok: false,
      reason:
        "This file's first line is a header without an “Account address” column, " +
        "so I can't tell which accounts you follow.",
    };
  }

  const accounts = seen - (hasHeader ? 1 : 0);
  if (accounts > MAX_ROWS) {
    const count =
      accounts > MAX_COUNTED_ROWS
        ? `more than ${MAX_COUNTED_ROWS.toLocaleString("en-US")}`
        : accounts.toLocaleString("en-US");
    return {
      ok: false,
      reason:
        `This file has ${count} accounts; Mastodon and I take ` +
        `at most ${MAX_ROWS.toLocaleString("en-US")} per file. Split it and send the parts.`,
    };
  }

  const rows: FollowRow[] = [];
  const bad: BadRow[] = [];
  const firstLine = new Map<string, number>();
  const slice = timeSlicer();
  for (const { line, cells } of dataRows) {
    await slice();
    const cell = (i: number) => (i === -1 ? "" : (cells[i] ?? ""));
    const parsed = FollowCells.safeParse({
      acct: cell(at.acct),
      reblogs: cell(at.reblogs),
      notify: cell(at.notify),
      languages: cell(at.languages),
    });
    if (!parsed.success) {
      bad.push({ line, reason: parsed.error.issues.map((i) => i.message).join("; ") });
      continue;
    }
    // Handles are case-insensitive; keep the first, as following twice does nothing new.
    const key = parsed.data.acct.toLowerCase();
    const seen = firstLine.get(key);
    if (seen !== undefined) {
      bad.push({ line, reason: `${parsed.data.acct} is already listed on line ${seen}` });
      continue;
    }
    firstLine.set(key, line);
    rows.push(parsed.data);
  }
  return { ok: true, rows, bad, header: hasHeader ? "mastodon" : "none" };
}

/** "line 7: …", the way a bad row is shown to the user. */
export function describeBadRow(b: BadRow): string {
  return `line ${b.line}: ${b.reason}`;
}

/** Header names match Mastodon's exactly, give or take spaces and case. */
function normalHeader(cell: string): string {
  return cell.trim().toLowerCase();
}
