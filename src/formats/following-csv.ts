/**
 * following_accounts.csv exactly as Mastodon writes it (app/models/export.rb):
 * a header row, newest follow first, `true`/`false`, languages joined by ", ",
 * Ruby CSV quoting (only fields with a comma, quote or line break), "\n" line ends.
 */
import type { FollowRow } from "../steps/state.js";

export const FOLLOWING_HEADER = [
  "Account address",
  "Show boosts",
  "Notify on new posts",
  "Languages",
] as const;

function field(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function followingCsv(rows: readonly FollowRow[]): string {
  const lines = [FOLLOWING_HEADER.map(field).join(",")];
  for (const r of rows) {
    const languages = r.languages && r.languages.length > 0 ? r.languages.join(", ") : "";
    lines.push([field(r.acct), String(r.reblogs), String(r.notify), field(languages)].join(","));
  }
  return `${lines.join("\n")}\n`;
}
