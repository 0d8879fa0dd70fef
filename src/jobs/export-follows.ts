/**
 * Reads every follow of the old account with its options: pages of `following`
 * (80, by the Link header) and, for each page, `relationships` in batches, which
 * carry show-boosts, notify and languages. Progress is handed back after every
 * page, so the job can save it and resume from the last cursor after a restart.
 */
import type { MastodonAccountClient } from "../clients/mastodon.js";
import { withDomain } from "../model/handle.js";
import type { FollowRow } from "../model/state.js";

/**
 * Mastodon's relationships controller takes any number of id[] (Array(params[:id])),
 * so one request per page of 80 keeps the count at the minimum; the URL stays under 2 KB.
 */
export const RELATIONSHIP_BATCH = 80;

export interface ExportCursor {
  /** The next page's URL; undefined before the first page. */
  next?: string;
  rows: FollowRow[];
  done: boolean;
}

export async function exportFollowsPage(
  client: MastodonAccountClient,
  accountId: string,
  domain: string,
  cursor: ExportCursor,
): Promise<ExportCursor> {
  const page = await client.followingPage(accountId, cursor.next);
  const options = new Map<
    string,
    { reblogs: boolean; notify: boolean; languages: string[] | null }
  >();
  for (let k = 0; k < page.accounts.length; k += RELATIONSHIP_BATCH) {
    const ids = page.accounts.slice(k, k + RELATIONSHIP_BATCH).map((a) => a.id);
    for (const rel of await client.relationships(ids)) {
      options.set(rel.id, {
        // Mastodon's defaults when a field is missing (older servers): boosts on, notify off.
        reblogs: rel.showing_reblogs ?? true,
        notify: rel.notifying ?? false,
        languages: rel.languages && rel.languages.length > 0 ? rel.languages : null,
      });
    }
  }
  const rows = page.accounts.map((a) => ({
    acct: withDomain(a.acct, domain),
    ...(options.get(a.id) ?? { reblogs: true, notify: false, languages: null }),
  }));
  return { next: page.next, rows: [...cursor.rows, ...rows], done: page.next === undefined };
}
