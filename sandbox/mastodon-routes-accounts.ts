/**
 * The account routes a client moving away from Mastodon reads (Api::V1::AccountsController and
 * friends):
 *
 *   GET /api/v1/accounts/verify_credentials   profile, read, read:accounts (profile from 4.3)
 *   GET /api/v1/accounts/lookup?acct=         authorize_if_got_token! read, read:accounts
 *   GET /api/v1/accounts/relationships?id[]=  read, read:follows; require_user!
 *   GET /api/v1/accounts/:id                  authorize_if_got_token! read, read:accounts
 *   GET /api/v1/accounts/:id/following        40 (max 80), cursor = Follow id, Link header
 *   GET /api/v1/accounts/:id/followers        (same)
 */

import {
  type ApiRequest,
  authorizeIfGotToken,
  currentAccount,
  doorkeeperAuthorize,
  requireUser,
} from "./mastodon-auth.js";
import {
  serializeAccount,
  serializeCredentialAccount,
  serializeRelationship,
} from "./mastodon-entities.js";
import {
  apiJson,
  bigCursor,
  internalError,
  limitParam,
  linkHeader,
  paginateByMaxId,
  type Reply,
  recordNotFound,
} from "./mastodon-http.js";
import type { FollowRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

/** The account routes (GET); null when the path is not one of them. */
export function accountsRoute(store: Store, r: ApiRequest): Reply | null {
  const { path, query } = r;
  if (path === "/api/v1/accounts/verify_credentials") {
    const scopes = store.atLeast(4, 3)
      ? ["profile", "read", "read:accounts"]
      : ["read", "read:accounts"];
    const denied = doorkeeperAuthorize(r, scopes) ?? requireUser(store, r);
    if (denied) return denied;
    return apiJson(200, serializeCredentialAccount(store, currentAccount(store, r)!));
  }

  if (path === "/api/v1/accounts/lookup") {
    const denied = authorizeIfGotToken(r, ["read", "read:accounts"]);
    if (denied) return denied;
    const acct = query.get("acct");
    const account = acct ? store.findByAcct(acct) : undefined;
    return account ? apiJson(200, serializeAccount(store, account)) : recordNotFound();
  }

  if (path === "/api/v1/accounts/relationships") {
    const denied = doorkeeperAuthorize(r, ["read", "read:follows"]) ?? requireUser(store, r);
    if (denied) return denied;
    const me = currentAccount(store, r)!;
    const raw = query.has("id[]")
      ? query.getAll("id[]")
      : query.has("id")
        ? [query.get("id")!]
        : [];
    const seen = new Set<string>();
    const out = [];
    for (const id of raw) {
      const account = store.findById(id);
      if (!account || seen.has(account.id)) continue;
      seen.add(account.id);
      out.push(serializeRelationship(store, me, account));
    }
    return apiJson(200, out);
  }

  const list = /^\/api\/v1\/accounts\/([^/.?]+)\/(following|followers)$/.exec(path);
  if (list) return accountList(store, r, list[1]!, list[2] as "following" | "followers");

  const show = /^\/api\/v1\/accounts\/([^/.?]+)$/.exec(path);
  if (show) {
    const denied = authorizeIfGotToken(r, ["read", "read:accounts"]);
    if (denied) return denied;
    const account = store.findById(show[1]!);
    return account ? apiJson(200, serializeAccount(store, account)) : recordNotFound();
  }
  return null;
}

function accountList(
  store: Store,
  r: ApiRequest,
  rawId: string,
  kind: "following" | "followers",
): Reply {
  const denied = authorizeIfGotToken(r, ["read", "read:accounts"]);
  if (denied) return denied;
  const account = store.findById(rawId);
  if (!account) return recordNotFound();

  const limitRaw = r.query.get("limit");
  // limit_param(DEFAULT_ACCOUNTS_LIMIT): [params[:limit].to_i.abs, 40 * 2].min
  const limit = limitParam(limitRaw, 40);
  const me = currentAccount(store, r);
  // hide_results?: hidden collections (unless it's the owner asking), or the owner blocks you.
  const hidden =
    (account.hideCollections === true && me?.id !== account.id) ||
    (me !== undefined && store.blockOf(account, me) !== undefined);
  const rows = kind === "following" ? account.following : account.followers;
  const followId = (f: FollowRow) => BigInt(f.id);
  const page = hidden
    ? []
    : paginateByMaxId(
        rows,
        followId,
        limit,
        bigCursor(r.query.get("max_id")),
        bigCursor(r.query.get("since_id")),
      );
  const accounts = page.map(
    (f) => store.accounts.get(kind === "following" ? f.targetAccountId : f.accountId)!,
  );

  // after_action :insert_pagination_headers — with limit=0 Mastodon calls .id on nil: 500.
  let link: string | null;
  try {
    link = linkHeader({
      base: `http://${r.host}/api/v1/accounts/${rawId}/${kind}`,
      limitRaw,
      limit,
      size: page.length,
      firstId: page[0] === undefined ? undefined : String(page[0].id),
      lastId: page.at(-1) === undefined ? undefined : String(page.at(-1)!.id),
    });
  } catch {
    return internalError(r.req);
  }
  return apiJson(
    200,
    accounts.map((a) => serializeAccount(store, a)),
    link ? { Link: link } : undefined,
  );
}
