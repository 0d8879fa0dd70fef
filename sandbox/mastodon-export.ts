/**
 * What Mastodon's own Export page (Settings → Import and export → Data export) would give
 * for an account in the stand-in, written from export.rb's rules (not from fedimove's
 * writer), so a test can compare the bot's files with the server's byte for byte:
 *
 *   following_accounts.csv  header; reorder(id: :desc)
 *   muted_accounts.csv      header `Account address,Hide notifications`; reorder(id: :desc)
 *   blocked_accounts.csv    no header; account.blocking, whose association is ordered
 *                           `blocks.id desc` (Account::Blocking / AccountInteractions):
 *                           newest block first, like GET /api/v1/blocks
 *   lists.csv               no header; `title,acct` per member, lists and members unordered → insertion order
 *   blocked_domains.csv     no header; account.domain_blocks.pluck(:domain) → insertion order
 *   bookmarks.csv           no header; status URI; reorder(id: :desc)
 *
 * `acct(account)`: local accounts get `@LOCAL_DOMAIN` (local_username_and_domain), remote
 * ones keep user@host. Ruby's CSV quotes a field only when it holds a comma, a quote or a
 * line break (an empty string is written as ""); rows end with "\n".
 *
 * Take the data from `sandbox.snapshotOf(username)`.
 */
import type { AccountSnapshot, FollowRecord } from "./mastodon.js";

/** Ruby's CSV: quote only when needed; nil → empty, "" → "". */
function rubyField(value: string | null): string {
  if (value === null) return "";
  if (value === "") return '""';
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function rubyCsv(rows: (string | null)[][], header?: string[]): string {
  const lines = rows.map((r) => r.map(rubyField).join(","));
  if (header) lines.unshift(header.map(rubyField).join(","));
  return lines.map((l) => `${l}\n`).join("");
}

/** export.rb's acct(account): local accounts get @LOCAL_DOMAIN. */
function exportAcct(acct: string, localDomain: string): string {
  return acct.includes("@") ? acct : `${acct}@${localDomain}`;
}

const newestFirst = <T extends { id: string }>(rows: readonly T[]): T[] =>
  [...rows].sort((a, b) =>
    BigInt(b.id) > BigInt(a.id) ? 1 : BigInt(b.id) < BigInt(a.id) ? -1 : 0,
  );

export function mastodonFollowingCsv(
  follows: readonly FollowRecord[],
  localDomain: string,
): string {
  const rows = newestFirst(follows.filter((f) => !f.requested)).map((f) => [
    exportAcct(f.targetAcct, localDomain),
    String(f.showReblogs),
    String(f.notify),
    f.languages?.length ? f.languages.join(", ") : null,
  ]);
  return rubyCsv(rows, ["Account address", "Show boosts", "Notify on new posts", "Languages"]);
}

/** following_accounts.csv from a snapshot (same rules as mastodonFollowingCsv). */
export function mastodonFollowingCsvOf(s: AccountSnapshot): string {
  const rows = newestFirst(s.following).map((f) => [
    exportAcct(f.acct, s.localDomain),
    String(f.showReblogs),
    String(f.notify),
    f.languages?.length ? f.languages.join(", ") : null,
  ]);
  return rubyCsv(rows, ["Account address", "Show boosts", "Notify on new posts", "Languages"]);
}

/** muted_accounts.csv */
export function mastodonMutedAccountsCsv(s: AccountSnapshot): string {
  const rows = newestFirst(s.mutes).map((m) => [
    exportAcct(m.acct, s.localDomain),
    String(m.hideNotifications),
  ]);
  return rubyCsv(rows, ["Account address", "Hide notifications"]);
}

/**
 * blocked_accounts.csv: `to_csv account.blocking`, and `has_many :blocking, -> { order('blocks.id
 * desc') }` (app/models/concerns/account/interactions.rb, every version read) makes it newest first.
 */
export function mastodonBlockedAccountsCsv(s: AccountSnapshot): string {
  return rubyCsv(newestFirst(s.blocks).map((b) => [exportAcct(b.acct, s.localDomain)]));
}

/** lists.csv */
export function mastodonListsCsv(s: AccountSnapshot): string {
  return rubyCsv(
    s.lists.flatMap((l) => l.members.map((m) => [l.title, exportAcct(m.acct, s.localDomain)])),
  );
}

/** blocked_domains.csv */
export function mastodonBlockedDomainsCsv(s: AccountSnapshot): string {
  return rubyCsv(s.domainBlocks.map((d) => [d.domain]));
}

/** bookmarks.csv */
export function mastodonBookmarksCsv(s: AccountSnapshot): string {
  return rubyCsv(newestFirst(s.bookmarks).map((b) => [b.uri]));
}

/** Not a Mastodon export: the followers' accts (export.rb's acct), newest follow first. */
export function mastodonFollowerAccts(s: AccountSnapshot): string[] {
  return newestFirst(s.followers).map((f) => exportAcct(f.acct, s.localDomain));
}

/** Every file of the Export page, by the name Mastodon gives it. */
export function mastodonExports(s: AccountSnapshot): Record<string, string> {
  return {
    "following_accounts.csv": mastodonFollowingCsvOf(s),
    "muted_accounts.csv": mastodonMutedAccountsCsv(s),
    "blocked_accounts.csv": mastodonBlockedAccountsCsv(s),
    "lists.csv": mastodonListsCsv(s),
    "blocked_domains.csv": mastodonBlockedDomainsCsv(s),
    "bookmarks.csv": mastodonBookmarksCsv(s),
  };
}
