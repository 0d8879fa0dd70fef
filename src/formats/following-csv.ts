/**
 * following_accounts.csv exactly as Mastodon writes it (app/models/export.rb):
 * a header row, newest follow first, `true`/`false`, languages joined by ", ",
 * Ruby CSV quoting (only fields with a comma, quote or line break), "\n" line ends.
 */
import type { FollowRow } from "../model/state.js";
import { rubyCsvRow } from "./ruby-csv.js";

export const FOLLOWING_HEADER = [
  "Account address",
  "Show boosts",
  "Notify on new posts",
  "Languages",
] as const;

export function followingCsv(rows: readonly FollowRow[]): string {
  let out = rubyCsvRow(FOLLOWING_HEADER);
  for (const r of rows) {
    // No languages is an empty cell, like Mastodon's `nil` from
    // `follow.languages&.join(', ')`, never Ruby's quoted empty string `""`;
    // `|| null` keeps any empty value bare, as this file has always written it.
    const languages = r.languages?.join(", ") || null;
    out += rubyCsvRow([r.acct || null, String(r.reblogs), String(r.notify), languages]);
  }
  return out;
}
