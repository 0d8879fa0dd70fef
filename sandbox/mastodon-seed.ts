/**
 * Seeding the Mastodon stand-in with accounts, follows and tokens, and playing a signed-in
 * user: what a test sets up before fedimove talks to the server. Each function validates its
 * input (mastodon-schemas.ts) and writes through the store as Mastodon's services would.
 */

import { type MastodonContext, settle } from "./mastodon-context.js";
import { type MastodonAccount, serializeAccount } from "./mastodon-entities.js";
import { paramsFromSearch } from "./mastodon-http.js";
import type { AuthorizeResult } from "./mastodon-oauth.js";
import { type AccountRow, acctParts, type FollowRow } from "./mastodon-rows.js";
import {
  Acct,
  AddAccountSchema,
  Count,
  DEFAULT_DOMAINS,
  FollowOptionsSchema,
  RemoteAccountSchema,
  RemoteAcct,
  ScopesSchema,
  SeedOptionsSchema,
  Username,
} from "./mastodon-schemas.js";
import type {
  AddAccountOptions,
  FollowOptions,
  FollowRecord,
  RemoteAccountOptions,
  SeedOptions,
} from "./mastodon-types.js";

/** Resolve an acct; unknown remote accounts are created (as if fetched). */
export function resolveAcct(ctx: MastodonContext, acct: string): AccountRow {
  const { store } = ctx;
  const existing = store.findByAcct(acct);
  if (existing) return existing;
  const { username, domain } = acctParts(acct);
  if (store.isLocalDomain(domain)) throw new Error(`no local account ${username}`);
  return store.createAccount({ username, domain });
}

/** n remote accounts with varied, deterministic profiles. */
export function seedRemote(
  ctx: MastodonContext,
  n: number,
  prefix: string,
  domains: string[],
): AccountRow[] {
  const { store } = ctx;
  const out: AccountRow[] = [];
  while (out.length < n) {
    const k = ++ctx.seedSeq;
    const d = domains[k % domains.length]!;
    if (store.findByAcct(`${prefix}${k}@${d}`)) continue;
    out.push(
      store.createAccount({
        username: `${prefix}${k}`,
        domain: d,
        displayName: `${prefix[0]!.toUpperCase()}${prefix.slice(1)} ${k}`,
        locked: k % 13 === 0,
        bot: k % 17 === 0,
        discoverable: k % 2 === 0 ? true : null,
        hideCollections: k % 11 === 0 ? true : null,
        reportedFollowers: (k * 37) % 5000,
        reportedFollowing: (k * 53) % 700,
        statusesCount: (k * 101) % 20000,
      }),
    );
  }
  return out;
}

function followRecord(ctx: MastodonContext, f: FollowRow): FollowRecord {
  const { store } = ctx;
  const a = store.accounts.get(f.accountId)!;
  const t = store.accounts.get(f.targetAccountId)!;
  return {
    id: String(f.id),
    accountId: a.id,
    acct: store.acctOf(a),
    targetAccountId: t.id,
    targetAcct: store.acctOf(t),
    showReblogs: f.showReblogs,
    notify: f.notify,
    languages: f.languages,
    requested: store.requestOf(a, t) === f,
  };
}

export function addAccount(ctx: MastodonContext, o: AddAccountOptions): MastodonAccount {
  const a = AddAccountSchema.parse(o);
  const row = ctx.store.createAccount({
    username: a.username,
    domain: null,
    displayName: a.displayName ?? "",
    locked: a.locked ?? false,
    hideCollections: a.hideCollections ?? false,
    discoverable: a.discoverable ?? false,
    bot: a.bot ?? false,
    note: a.note ?? "",
  });
  return serializeAccount(ctx.store, row);
}

export function addRemoteAccount(
  ctx: MastodonContext,
  acct: string,
  o: RemoteAccountOptions = {},
): MastodonAccount {
  const { username, domain } = acctParts(RemoteAcct.parse(acct));
  const r = RemoteAccountSchema.parse(o);
  const row = ctx.store.createAccount({
    username,
    domain,
    displayName: r.displayName ?? "",
    locked: r.locked ?? false,
    bot: r.bot ?? false,
    discoverable: r.discoverable ?? null,
    hideCollections: r.hideCollections ?? null,
    reportedFollowers: r.followersCount ?? 0,
    reportedFollowing: r.followingCount ?? 0,
    statusesCount: r.statusesCount ?? 0,
  });
  return serializeAccount(ctx.store, row);
}

export function follow(
  ctx: MastodonContext,
  follower: string,
  target: string,
  o: FollowOptions = {},
): FollowRecord {
  const f = FollowOptionsSchema.parse(o);
  const a = resolveAcct(ctx, Acct.parse(follower));
  const t = resolveAcct(ctx, Acct.parse(target));
  return followRecord(ctx, ctx.store.follow(a, t, f));
}

export function unfollow(ctx: MastodonContext, follower: string, target: string): boolean {
  const a = ctx.store.findByAcct(follower);
  const t = ctx.store.findByAcct(target);
  return a !== undefined && t !== undefined && ctx.store.unfollow(a, t);
}

/** n generated remote accounts (named prefix+k), each followed by or following the owner. */
function seedFollowRows(
  ctx: MastodonContext,
  username: string,
  n: number,
  o: SeedOptions,
  prefix: string,
  followOf: (owner: AccountRow, other: AccountRow, i: number) => FollowRow,
): FollowRecord[] {
  const owner = ctx.store.local(username);
  const count = Count.parse(n);
  const { domains = DEFAULT_DOMAINS } = SeedOptionsSchema.parse(o);
  return seedRemote(ctx, count, prefix, domains).map((acc, i) =>
    followRecord(ctx, followOf(owner, acc, i)),
  );
}

export function seedFollows(
  ctx: MastodonContext,
  username: string,
  n: number,
  o: SeedOptions = {},
): FollowRecord[] {
  return seedFollowRows(ctx, username, n, o, "friend", (owner, acc, i) =>
    ctx.store.follow(owner, acc, {
      showReblogs: i % 5 !== 1,
      notify: i % 7 === 2,
      languages: i % 3 === 0 ? ["en", "de"] : null,
    }),
  );
}

export function seedFollowers(
  ctx: MastodonContext,
  username: string,
  n: number,
  o: SeedOptions = {},
): FollowRecord[] {
  return seedFollowRows(ctx, username, n, o, "fan", (owner, acc, i) =>
    ctx.store.follow(acc, owner, { showReblogs: i % 4 !== 3, notify: i % 9 === 0 }),
  );
}

export function issueToken(
  ctx: MastodonContext,
  username: string,
  scopes: string[] = ["read"],
): string {
  return ctx.store.issueToken(ctx.store.local(username), ScopesSchema.parse(scopes)).token;
}

export function revokeToken(ctx: MastodonContext, token: string): boolean {
  const row = ctx.store.tokens.get(token);
  if (!row || row.revoked) return false;
  ctx.store.revokeToken(row);
  return true;
}

/** Sets `moved` with no checks and no followers leaving (the Move is mastodon-move.ts). */
export function moveAccount(
  ctx: MastodonContext,
  username: string,
  targetAcct: string,
): MastodonAccount {
  const source = ctx.store.local(username);
  const target = resolveAcct(ctx, Acct.parse(targetAcct));
  if (target === source) throw new Error("move_to_self");
  if (source.movedToAccountId !== null) throw new Error("already_moved");
  source.movedToAccountId = target.id;
  return serializeAccount(ctx.store, source);
}

/**
 * "username is signed in and clicks Authorize" on an /oauth/authorize URL (any host; only its
 * query counts). Throws an Error with `.oauth` = Doorkeeper's error when the request would get
 * the error page instead.
 */
export function authorizeAs(
  ctx: MastodonContext,
  username: string,
  authorizeUrl: string,
): AuthorizeResult {
  const account = ctx.store.local(Username.parse(username));
  let parsed: URL;
  try {
    parsed = new URL(authorizeUrl, ctx.url);
  } catch {
    throw new Error(`not a URL: ${authorizeUrl}`);
  }
  if (parsed.pathname.replace(/\/+$/, "") !== "/oauth/authorize") {
    throw new Error(`not an /oauth/authorize URL: ${authorizeUrl}`);
  }
  // The browser's request is a request like any other: what is due happens first.
  settle(ctx);
  const result = ctx.oauth.approve(account, paramsFromSearch(parsed.searchParams), ctx.url);
  if ("error" in result) {
    throw Object.assign(new Error(`${result.error}: ${result.error_description}`), {
      oauth: result,
    });
  }
  return result;
}
