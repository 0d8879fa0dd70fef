/**
 * Which Mastodon export a file most likely is. Someone asked for their follows
 * can easily grab the file next to it; following everyone they muted or blocked
 * would be a nasty surprise, so the follows reader refuses anything that looks
 * like another export and says which one it looks like.
 *
 * Same evidence and order as Mastodon's Form::Import#guessed_type (header names,
 * then the file name's start), plus the headers Mastodon itself rejects for
 * follows (`#domain`, `#uri`, `List name`), plus — for the header-less exports,
 * when the name says nothing (a renamed or pasted file) — what the rows hold.
 */

import { isHostname, parseAccountAddress } from "../model/handle.js";
import type { CsvRow } from "./csv-lines.js";

export type ExportKind =
  | "following"
  | "muting"
  | "blocking"
  | "domain_blocking"
  | "bookmarks"
  | "lists";

const NAME_PREFIXES: [ExportKind, string[]][] = [
  ["muting", ["mutes", "muted_accounts"]],
  ["following", ["follows", "following_accounts"]],
  ["blocking", ["blocks", "blocked_accounts"]],
  ["domain_blocking", ["domain_blocks", "blocked_domains"]],
  ["bookmarks", ["bookmarks"]],
  ["lists", ["lists"]],
];

/** `headers` are lower-cased header names, or null for a header-less file. */
export function guessExportKind(
  headers: readonly string[] | null,
  name: string | undefined,
  rows: readonly CsvRow[],
): ExportKind | undefined {
  const has = (h: string) => headers?.includes(h.toLowerCase()) ?? false;
  if (has("Hide notifications")) return "muting";
  if (has("#domain")) return "domain_blocking";
  if (has("#uri")) return "bookmarks";
  if (has("List name")) return "lists";
  if (has("Show boosts") || has("Notify on new posts") || has("Languages")) return "following";

  // Case-insensitive, unlike Mastodon: phones and mail clients rename files freely.
  const base = name?.split(/[/\\]/).at(-1)?.toLowerCase();
  if (base) {
    for (const [kind, prefixes] of NAME_PREFIXES) {
      if (prefixes.some((p) => base.startsWith(p))) return kind;
    }
  }
  return headers === null ? guessFromRows(rows) : undefined;
}

/** Only when every row agrees: one odd line in a list of handles is just a bad row. */
function guessFromRows(rows: readonly CsvRow[]): ExportKind | undefined {
  if (rows.length === 0) return undefined;
  const first = rows.map((r) => (r.cells[0] ?? "").trim());
  if (first.every((c) => isHostname(c.toLowerCase()))) return "domain_blocking";
  if (first.every((c) => /^https?:\/\//i.test(c) && !parseAccountAddress(c).ok)) return "bookmarks";
  const isListRow = (r: CsvRow) =>
    r.cells.length >= 2 &&
    !parseAccountAddress(r.cells[0]!).ok &&
    parseAccountAddress(r.cells[1]!).ok;
  if (rows.every(isListRow)) return "lists";
  return undefined;
}

const LOOKS_LIKE: Record<Exclude<ExportKind, "following">, string> = {
  muting: "your muted accounts (muted_accounts.csv)",
  blocking: "your blocked accounts (blocked_accounts.csv)",
  domain_blocking: "a list of blocked domains (blocked_domains.csv)",
  bookmarks: "your bookmarks (bookmarks.csv)",
  lists: "your lists (lists.csv)",
};

export function notFollowsReason(kind: Exclude<ExportKind, "following">): string {
  return (
    `This looks like ${LOOKS_LIKE[kind]}, not the accounts you follow. ` +
    "Send following_accounts.csv instead — on Mastodon it's under " +
    "Preferences → Import and export → Data export, “Follows”."
  );
}
