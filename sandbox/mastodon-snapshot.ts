/**
 * The collections a user can export from Mastodon, as the REST API serves them:
 *
 *   GET /api/v1/lists                 read, read:lists       all, unpaginated (id order)
 *   GET /api/v1/lists/:id             read, read:lists
 *   GET /api/v1/lists/:id/accounts    read, read:lists       40 (max 80), cursor = account id; limit=0 → all
 *   GET /api/v1/blocks                follow, read, read:blocks   40 (max 80), cursor = Block id
 *   GET /api/v1/mutes                 follow, read, read:mutes    40 (max 80), cursor = Mute id, + mute_expires_at
 *   GET /api/v1/domain_blocks         follow, read, read:blocks   100 (max 200), cursor = AccountDomainBlock id, strings
 *   GET /api/v1/bookmarks             read, read:bookmarks        20 (max 40), cursor = Bookmark id, prev uses min_id
 *                                     (3.1+; older versions have no bookmarks and answer 404)
 *
 * All need a user token (require_user!). Pagination as Api::Pagination writes it (see
 * mastodon-http.ts). `snapshotOf` reads the same data for the export helpers.
 */

import { type MastodonAccount, serializeAccount, serializeStatus } from "./mastodon-entities.js";
import {
  apiJson,
  bigCursor,
  limitParam,
  linkHeader,
  paginateByMaxId,
  paginateByMinId,
  type Reply,
  recordNotFound,
} from "./mastodon-http.js";
import type { AccountRow, FollowRow, ListRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

export interface SnapshotApiContext {
  query: URLSearchParams;
  /** http://host — the base of Link URLs. */
  baseUrl: string;
  /** doorkeeper_authorize!(*scopes) + require_user!: the user, or the refusal. */
  user(scopes: string[]): AccountRow | Reply;
  /** A 500 from an exception nobody rescues. */
  internalError(): Reply;
}

export interface ListEntity {
  id: string;
  title: string;
  replies_policy: string;
  exclusive?: boolean;
}

export type MutedAccountEntity = MastodonAccount & { mute_expires_at?: string | null };

export function serializeList(store: Store, list: ListRow): ListEntity {
  return {
    id: String(list.id),
    title: list.title,
    replies_policy: list.repliesPolicy,
    ...(store.atLeast(4, 2) ? { exclusive: list.exclusive } : {}),
  };
}

function paged<T>(
  ctx: SnapshotApiContext,
  path: string,
  rows: readonly T[],
  idOf: (row: T) => bigint,
  defaultLimit: number,
  render: (page: T[]) => unknown,
  opts: { minId?: boolean } = {},
): Reply {
  const limitRaw = ctx.query.get("limit");
  const limit = limitParam(limitRaw, defaultLimit);
  const maxId = bigCursor(ctx.query.get("max_id"));
  const minId = opts.minId ? bigCursor(ctx.query.get("min_id")) : null;
  const page =
    minId !== null
      ? paginateByMinId(rows, idOf, limit, minId, maxId)
      : paginateByMaxId(rows, idOf, limit, maxId, bigCursor(ctx.query.get("since_id")));
  let link: string | null;
  try {
    link = linkHeader({
      base: `${ctx.baseUrl}${path}`,
      limitRaw,
      limit,
      size: page.length,
      firstId: page[0] === undefined ? undefined : String(idOf(page[0])),
      lastId: page.at(-1) === undefined ? undefined : String(idOf(page.at(-1)!)),
      prevParam: opts.minId ? "min_id" : "since_id",
    });
  } catch {
    return ctx.internalError();
  }
  return apiJson(200, render(page), link ? { Link: link } : undefined);
}

const byNumber = (r: { id: number }): bigint => BigInt(r.id);

/** Routes the snapshot collections; null when the path is not one of them. */
export function snapshotRoute(store: Store, path: string, ctx: SnapshotApiContext): Reply | null {
  if (path === "/api/v1/lists") {
    const me = ctx.user(["read", "read:lists"]);
    if (!("id" in me)) return me;
    return apiJson(
      200,
      me.lists.map((l) => serializeList(store, l)),
    );
  }

  const listMatch = /^\/api\/v1\/lists\/([^/.]+)(\/accounts)?$/.exec(path);
  if (listMatch) {
    const me = ctx.user(["read", "read:lists"]);
    if (!("id" in me)) return me;
    // List.where(account: current_account).find(params[:id])
    const list = store.lists.get(Number(bigCursor(listMatch[1]!) ?? 0n));
    if (!list || list.accountId !== me.id) return recordNotFound();
    if (!listMatch[2]) return apiJson(200, serializeList(store, list));
    const members = list.members
      .map((m) => store.accounts.get(m.accountId)!)
      .filter((a): a is AccountRow => a !== undefined);
    if (ctx.query.get("limit") === "0") {
      // unlimited?: `.all`, no Link header
      return apiJson(
        200,
        members.map((a) => serializeAccount(store, a)),
      );
    }
    // @list.accounts.paginate_by_max_id: the cursor is the *account* id, newest account first.
    const sorted = [...members].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    return paged(
      ctx,
      `/api/v1/lists/${listMatch[1]}/accounts`,
      sorted,
      (a) => BigInt(a.id),
      40,
      (page) => page.map((a) => serializeAccount(store, a)),
    );
  }

  if (path === "/api/v1/blocks") {
    const me = ctx.user(["follow", "read", "read:blocks"]);
    if (!("id" in me)) return me;
    return paged(ctx, path, me.blocks, byNumber, 40, (page) =>
      page.map((b) => serializeAccount(store, store.accounts.get(b.targetAccountId)!)),
    );
  }

  if (path === "/api/v1/mutes") {
    const me = ctx.user(["follow", "read", "read:mutes"]);
    if (!("id" in me)) return me;
    const now = store.clock();
    return paged(ctx, path, me.mutes, byNumber, 40, (page) =>
      page.map((m): MutedAccountEntity => {
        const account = serializeAccount(store, store.accounts.get(m.targetAccountId)!);
        if (!store.atLeast(3, 3)) return account;
        const active = m.expiresAt !== null && m.expiresAt > now;
        return {
          ...account,
          mute_expires_at: active ? new Date(m.expiresAt!).toISOString() : null,
        };
      }),
    );
  }

  if (path === "/api/v1/domain_blocks") {
    const me = ctx.user(["follow", "read", "read:blocks"]);
    if (!("id" in me)) return me;
    return paged(ctx, path, me.domainBlocks, byNumber, 100, (page) => page.map((d) => d.domain));
  }

  // Bookmarks and their route came in 3.1.0: before, Rails' catch-all 404.
  if (path === "/api/v1/bookmarks" && store.atLeast(3, 1)) {
    const me = ctx.user(["read", "read:bookmarks"]);
    if (!("id" in me)) return me;
    return paged(
      ctx,
      path,
      me.bookmarks,
      byNumber,
      20,
      (page) => page.map((b) => serializeStatus(store, store.statuses.get(b.statusId)!, me)),
      { minId: true },
    );
  }

  return null;
}

// ---- reading a user's data for exports and tests ------------------------------------

export interface SnapshotFollow {
  /** Follow record id */
  id: string;
  accountId: string;
  /** username for local accounts, user@host for remote ones (as the API writes acct) */
  acct: string;
  showReblogs: boolean;
  notify: boolean;
  languages: string[] | null;
}

export interface SnapshotList {
  id: string;
  title: string;
  repliesPolicy: "followed" | "list" | "none";
  exclusive: boolean;
  /** Members in the order they were added. */
  members: { id: string; accountId: string; acct: string }[];
}

export interface SnapshotBlock {
  /** Block record id */
  id: string;
  accountId: string;
  acct: string;
}

export interface SnapshotMute extends SnapshotBlock {
  hideNotifications: boolean;
  /** ISO 8601, or null for an indefinite mute */
  expiresAt: string | null;
}

export interface SnapshotDomainBlock {
  id: string;
  domain: string;
}

export interface SnapshotBookmark {
  /** Bookmark record id */
  id: string;
  statusId: string;
  /** ActivityPub id of the status (what bookmarks.csv holds) */
  uri: string;
  url: string | null;
  authorAcct: string;
}

/** Everything of one local account that Mastodon's exports are made from; rows ascending by id. */
export interface AccountSnapshot {
  username: string;
  accountId: string;
  /** LOCAL_DOMAIN, which export.rb appends to local accounts' acct. */
  localDomain: string;
  following: SnapshotFollow[];
  followers: SnapshotFollow[];
  lists: SnapshotList[];
  blocks: SnapshotBlock[];
  mutes: SnapshotMute[];
  domainBlocks: SnapshotDomainBlock[];
  bookmarks: SnapshotBookmark[];
}

export function readSnapshot(store: Store, account: AccountRow): AccountSnapshot {
  const acct = (id: string) => store.acctOf(store.accounts.get(id)!);
  const follow = (f: FollowRow, other: string): SnapshotFollow => ({
    id: String(f.id),
    accountId: other,
    acct: acct(other),
    showReblogs: f.showReblogs,
    notify: f.notify,
    languages: f.languages,
  });
  return {
    username: account.username,
    accountId: account.id,
    localDomain: store.domain,
    following: account.following.map((f) => follow(f, f.targetAccountId)),
    followers: account.followers.map((f) => follow(f, f.accountId)),
    lists: account.lists.map((l) => ({
      id: String(l.id),
      title: l.title,
      repliesPolicy: l.repliesPolicy,
      exclusive: l.exclusive,
      members: l.members.map((m) => ({
        id: String(m.id),
        accountId: m.accountId,
        acct: acct(m.accountId),
      })),
    })),
    blocks: account.blocks.map((b) => ({
      id: String(b.id),
      accountId: b.targetAccountId,
      acct: acct(b.targetAccountId),
    })),
    mutes: account.mutes.map((m) => ({
      id: String(m.id),
      accountId: m.targetAccountId,
      acct: acct(m.targetAccountId),
      hideNotifications: m.hideNotifications,
      expiresAt: m.expiresAt === null ? null : new Date(m.expiresAt).toISOString(),
    })),
    domainBlocks: account.domainBlocks.map((d) => ({ id: String(d.id), domain: d.domain })),
    bookmarks: account.bookmarks.map((b) => {
      const st = store.statuses.get(b.statusId)!;
      return {
        id: String(b.id),
        statusId: st.id,
        uri: st.uri,
        url: st.url,
        authorAcct: acct(st.accountId),
      };
    }),
  };
}
