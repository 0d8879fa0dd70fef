/**
 * The other CSV exports, byte for byte as Mastodon's app/models/export.rb writes
 * them, so a file we rebuild from the API imports anywhere the real one would.
 * Only mutes (and follows, in following-csv.ts) carry a header row; the rest are
 * bare rows. Order is the caller's: Mastodon writes newest first.
 */
import { rubyCsvRow } from "./ruby-csv.js";

export const MUTED_HEADER = ["Account address", "Hide notifications"] as const;

/** muted_accounts.csv: `acct,true|false` under a header row. */
export function mutedAccountsCsv(
  rows: readonly { acct: string; hideNotifications: boolean }[],
): string {
  let out = rubyCsvRow(MUTED_HEADER);
  for (const r of rows) out += rubyCsvRow([r.acct, String(r.hideNotifications)]);
  return out;
}

/** blocked_accounts.csv: one acct a line, no header. */
export function blockedAccountsCsv(accts: readonly string[]): string {
  return accts.map((a) => rubyCsvRow([a])).join("");
}

/** lists.csv: `list title,acct`, one row per member, no header. */
export function listsCsv(rows: readonly { title: string; acct: string }[]): string {
  return rows.map((r) => rubyCsvRow([r.title, r.acct])).join("");
}

/** blocked_domains.csv: one domain a line, no header. */
export function blockedDomainsCsv(domains: readonly string[]): string {
  return domains.map((d) => rubyCsvRow([d])).join("");
}

/** bookmarks.csv: one status URI (its ActivityPub id) a line, no header. */
export function bookmarksCsv(uris: readonly string[]): string {
  return uris.map((u) => rubyCsvRow([u])).join("");
}
