/**
 * The files a snapshot is sent as: following_accounts.csv on its own (the one a
 * user needs next), and one zip with every export in Mastodon's own format and
 * file name, so any Mastodon-compatible server imports them as they are.
 */
import type { Snapshot } from "../model/snapshot.js";
import { followingCsv } from "./following-csv.js";
import {
  blockedAccountsCsv,
  blockedDomainsCsv,
  bookmarksCsv,
  listsCsv,
  mutedAccountsCsv,
} from "./mastodon-exports.js";
import { rubyCsvRow } from "./ruby-csv.js";
import { zip } from "./zip.js";

const utf8 = (s: string) => new TextEncoder().encode(s);

/** Not a Mastodon export (it has none for followers): one column, Mastodon's header name. */
export function followersCsv(accts: readonly string[]): string {
  return ["Account address", ...accts].map((a) => rubyCsvRow([a])).join("");
}

/**
 * The API lists domain blocks and list members newest first; export.rb writes
 * them without an ORDER BY, which is table order, oldest first. Follows, mutes
 * and bookmarks it orders by id desc, and blocks come from `account.blocking`,
 * an association ordered `blocks.id desc` (app/models/export.rb,
 * app/models/concerns/account/interactions.rb): those four stay in the API's
 * newest-first order. Lists keep their order.
 */
function oldestFirstByList(rows: Snapshot["lists"]): Snapshot["lists"] {
  const byTitle = new Map<string, Snapshot["lists"]>();
  for (const row of rows) byTitle.set(row.title, [...(byTitle.get(row.title) ?? []), row]);
  return [...byTitle.values()].flatMap((members) => members.toReversed());
}

/** The zip is named for the account, e.g. hachyderm.io-ada-2026-11-27.zip. */
export function snapshotFiles(snapshot: Snapshot, who: { domain: string; username: string }) {
  const date = new Date(snapshot.takenAt).toISOString().slice(0, 10);
  const following = utf8(followingCsv(snapshot.follows));
  const entries = [
    { name: "following_accounts.csv", bytes: following },
    { name: "followers.csv", bytes: utf8(followersCsv(snapshot.followers.accts)) },
    { name: "lists.csv", bytes: utf8(listsCsv(oldestFirstByList(snapshot.lists))) },
    { name: "blocked_accounts.csv", bytes: utf8(blockedAccountsCsv(snapshot.blocks)) },
    { name: "muted_accounts.csv", bytes: utf8(mutedAccountsCsv(snapshot.mutes)) },
    {
      name: "blocked_domains.csv",
      bytes: utf8(blockedDomainsCsv(snapshot.domainBlocks.toReversed())),
    },
    { name: "bookmarks.csv", bytes: utf8(bookmarksCsv(snapshot.bookmarks)) },
  ].map((e) => ({ ...e, date: new Date(snapshot.takenAt) }));
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "_");
  return {
    following,
    zipName: `${safe(who.domain)}-${safe(who.username)}-${date}.zip`,
    zip: zip(entries),
  };
}
