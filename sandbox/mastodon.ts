/**
 * A strict stand-in for a Mastodon server (4.x), on 127.0.0.1, for the parts fedimove reads:
 * verify_credentials, accounts show/lookup, following/followers with Link pagination,
 * relationships (mastodon-routes-accounts.ts), instance v1/v2 and nodeinfo
 * (mastodon-routes-instance.ts); OAuth (apps, /oauth/authorize, token, revoke, discovery:
 * mastodon-oauth*.ts); the collections a user exports (lists, blocks, mutes, domain blocks,
 * bookmarks: mastodon-snapshot.ts); search v2 and follow/unfollow with the follows
 * RateLimiter, as the server a user moves to (mastodon-target.ts); WebFinger, actors and
 * collections (mastodon-activitypub.ts), remote accounts and aliases (mastodon-federation.ts)
 * and the Move with followers leaving (mastodon-move.ts). It copies Mastodon's behaviour rather
 * than accepting anything: Doorkeeper's 401/403 bodies, Rack::Attack's fixed-window throttles
 * and headers, record-id cursors, `next` only on full pages, Rails' integer casting of params,
 * the HTML 404 for routes that don't exist. See /work/shared/reference/apis.md (A1–A5).
 *
 * This module starts the server and builds the handle; the modules share one context
 * (mastodon-context.ts), requests go through the shared pipeline (http-pipeline.ts,
 * mastodon-pipeline.ts) to the routes table (mastodon-routes.ts).
 *
 * Seeding and fault injection are available in-process and, for a sandbox running in another
 * process (mastodon-server.ts), as JSON endpoints that are never logged, delayed, failed or
 * throttled:
 *
 *   POST /_sandbox/accounts          {username, displayName?, locked?, hideCollections?, discoverable?, bot?, note?}
 *   POST /_sandbox/remote-accounts   {acct, displayName?, locked?, followersCount?, followingCount?, …}
 *   POST /_sandbox/follows           {follower, target, showReblogs?, notify?, languages?, pending?}
 *   POST /_sandbox/unfollow          {follower, target}
 *   POST /_sandbox/seed-follows      {username, n, domains?}   → {count}
 *   POST /_sandbox/seed-followers    {username, n, domains?}   → {count}
 *   POST /_sandbox/tokens            {username, scopes?}       → {token}
 *   POST /_sandbox/revoke-token      {token}                   → {revoked}
 *   POST /_sandbox/move              {username, target}   (no checks; see perform-move)
 *   POST /_sandbox/authorize         {username, url}           → {code, redirectTo, oob, state, responseMode} | 400 {error, error_description}
 *   POST /_sandbox/lists             {username, title, members?, repliesPolicy?, exclusive?} → {id, title, members}
 *   POST /_sandbox/blocks            {username, acct}          → {id}
 *   POST /_sandbox/mutes             {username, acct, hideNotifications?, expiresIn?} → {id}
 *   POST /_sandbox/domain-blocks     {username, domain}        → {id}
 *   POST /_sandbox/bookmarks         {username, statusUri, author?, content?, url?} → {id}
 *   POST /_sandbox/snapshot          {username, lists?, blocks?, mutes?, domainBlocks?, bookmarks?, domains?} → AccountSnapshot
 *   GET  /_sandbox/snapshot?username=…                         → AccountSnapshot
 *   POST /_sandbox/rate-limit        {limit, windowMs, perUser?, paging?, appRegistrations?} | null
 *   POST /_sandbox/reset-rate-limits
 *   POST /_sandbox/latency           {ms}
 *   POST /_sandbox/fail-next         {n, status, body?, contentType?, headers?, path?} | {n, hang: true} | {n, drop: true}
 *   POST /_sandbox/chaos             {rate, seed, kinds?, hangMs?, slowMs?, paths?} | null
 *   GET  /_sandbox/chaos             → faults given, by kind | null
 *   GET  /_sandbox/requests          → RequestLogEntry[]
 *   POST /_sandbox/reset-log
 *
 * As a follow target and for the Move (mastodon-target.ts, mastodon-federation.ts,
 * mastodon-move.ts):
 *
 *   POST /_sandbox/resolvables       {acct, locked?, moved?, alsoKnownAs?, uri?, url?, displayName?, bot?, followersCount?, …}
 *   POST /_sandbox/accept-follows    {follower?, target?, includeLocked?} → {accepted}
 *   POST /_sandbox/auto-accept       {ms: number | null}
 *   POST /_sandbox/follow-limit      {limit, periodMs?} | null
 *   POST /_sandbox/reset-follow-limits
 *   POST /_sandbox/locked            {username, locked}
 *   POST /_sandbox/aliases           {username, acct}          → {alsoKnownAs} | 422 {error, errors}
 *   POST /_sandbox/remove-alias      {username, acct}          → {removed, alsoKnownAs}
 *   POST /_sandbox/perform-move      {username, target, at?, transfer?: {perTick, tickMs, stragglers?}} → Account | 422 {error, errors}
 *   POST /_sandbox/transfer          {username, n}             → {moved, remaining}
 *   GET  /_sandbox/followers?username=…                        → {count, followers: acct[]}
 *   POST /_sandbox/origins           {origins: {HOST: "http://127.0.0.1:PORT" | null}}  (where https://HOST is fetched from)
 *
 * For a bot answering direct messages (statuses, notifications and their 4.3 policy,
 * update_credentials: mastodon-routes-dm.ts; the streaming API over WebSocket at
 * /api/v1/streaming: mastodon-streaming.ts; people writing to the bot: mastodon-dm-control.ts):
 *
 *   POST /_sandbox/statuses          {from, status, visibility?, inReplyToId?, spoilerText?} → Status
 *   GET  /_sandbox/mentioning?acct=…                           → Status[]
 *   POST /_sandbox/drop-streams                                → {dropped}
 *   POST /_sandbox/streaming         {available}
 *   GET  /_sandbox/streams                                     → {connections}
 *   GET  /_sandbox/policy?username=…                           → the notification policy
 *   POST /_sandbox/status-limit      {limit, periodMs?} | null
 *
 * Bad input gets 400 {"error": …}.
 */

import { listenLocal, type PipelineControls, RequestPipeline } from "./http-pipeline.js";
import { createMastodonContext, settle } from "./mastodon-context.js";
import { mastodonControl } from "./mastodon-control.js";
import { chainControls, dmControlRoutes, dmControls } from "./mastodon-dm-control.js";
import { serializeAccount } from "./mastodon-entities.js";
import { mastodonStages } from "./mastodon-pipeline.js";
import { FaultSchema, OptionsSchema, RateLimitSchema } from "./mastodon-schemas.js";
import * as seed from "./mastodon-seed.js";
import * as seedSnapshot from "./mastodon-seed-snapshot.js";
import { Streaming } from "./mastodon-streaming.js";
import type { MastodonSandbox, MastodonSandboxOptions, RequestLogEntry } from "./mastodon-types.js";

export type { DmControls, PostAsOptions } from "./mastodon-dm-control.js";
export type {
  MastodonAccount,
  MastodonCredentialAccount,
  MastodonRelationship,
  MastodonStatus,
} from "./mastodon-entities.js";
export type { ResolvableOptions } from "./mastodon-federation.js";
export { ValidationError } from "./mastodon-federation.js";
export type {
  LeavingFollower,
  MigrationRecord,
  PerformMoveOptions,
  TransferOptions,
} from "./mastodon-move.js";
export type { Policy } from "./mastodon-notifications.js";
export type { AuthorizeResult, OAuthError } from "./mastodon-oauth.js";
export type { StatusLimitConfig } from "./mastodon-posting.js";
export type { OriginOf, ResolveActor, ResolvedActor } from "./mastodon-resolve.js";
export { httpResolveActor, loopbackOriginOf } from "./mastodon-resolve.js";
export type {
  AccountSnapshot,
  SnapshotBlock,
  SnapshotBookmark,
  SnapshotDomainBlock,
  SnapshotFollow,
  SnapshotList,
  SnapshotMute,
} from "./mastodon-snapshot.js";
export type { AcceptFollowsOptions, FollowLimitConfig } from "./mastodon-target.js";
export type { RateLimitConfig, ThrottleWindow } from "./mastodon-throttle.js";
export type {
  AddAccountOptions,
  BookmarkOptions,
  Fault,
  FollowOptions,
  FollowRecord,
  ListOptions,
  MastodonSandbox,
  MastodonSandboxOptions,
  MuteOptions,
  RemoteAccountOptions,
  RequestLogEntry,
  SeedOptions,
  SnapshotListRecord,
  SnapshotSeed,
} from "./mastodon-types.js";

/** Starts the stand-in on 127.0.0.1 and wires its modules together around one context. */
export async function startMastodonSandbox(
  opts: MastodonSandboxOptions = {},
): Promise<MastodonSandbox> {
  const {
    now: clock = Date.now,
    resolveActor,
    originOf,
    followLimit,
    autoAcceptFollowsMs,
    ...rest
  } = opts;
  const options = OptionsSchema.parse(rest);
  const { server, port, url, close } = await listenLocal(options.port ?? 0);
  const ctx = createMastodonContext({
    url,
    port,
    domain: options.domain,
    version: options.version ?? "4.3.2",
    maxCharacters: options.maxCharacters ?? 500,
    clock,
    rateLimit: options.rateLimit,
    resolveActor,
    originOf,
    followLimit,
    autoAcceptFollowsMs,
    applicationsVacuum: options.applicationsVacuum,
    authorizedFetch: options.authorizedFetch,
    closedApi: options.closedApi,
  });
  const { store, fed, moves, target } = ctx;

  const streaming = new Streaming(ctx, server);
  const dm = dmControls(ctx, streaming);
  const pipeline = new RequestPipeline<RequestLogEntry>(FaultSchema);
  const seeding: Omit<MastodonSandbox, keyof PipelineControls<RequestLogEntry>> = {
    ...dm,
    url,
    port,
    domain: ctx.domain,
    version: ctx.version,
    addAccount: (o) => seed.addAccount(ctx, o),
    addRemoteAccount: (acct, o) => seed.addRemoteAccount(ctx, acct, o),
    getAccount(acct) {
      settle(ctx);
      const row = store.findByAcct(acct);
      return row ? serializeAccount(store, row) : undefined;
    },
    follow: (follower, to, o) => seed.follow(ctx, follower, to, o),
    unfollow: (follower, to) => seed.unfollow(ctx, follower, to),
    seedFollows: (username, n, o) => seed.seedFollows(ctx, username, n, o),
    seedFollowers: (username, n, o) => seed.seedFollowers(ctx, username, n, o),
    issueToken: (username, scopes) => seed.issueToken(ctx, username, scopes),
    revokeToken: (token) => seed.revokeToken(ctx, token),
    moveAccount: (username, to) => seed.moveAccount(ctx, username, to),
    addResolvable: (acct, o) => fed.addResolvable(acct, o),
    setLocked: (username, locked) => serializeAccount(store, fed.setLocked(username, locked)),
    addAlias: (username, acctOrActorUri) => fed.addAlias(username, acctOrActorUri),
    removeAlias: (username, acctOrActorUri) => fed.removeAlias(username, acctOrActorUri),
    alsoKnownAs: (username) => fed.alsoKnownAsOf(username),
    actorUri: (username) => store.uriOf(store.local(username)),
    async performMove(username, to, o) {
      settle(ctx);
      return serializeAccount(store, await moves.performMove(username, to, o));
    },
    migrationsOf: (username) => moves.migrationsOf(username),
    transferNow: (username, n) => moves.transferNow(username, n),
    followersOf(username) {
      settle(ctx);
      return moves.followersOf(username);
    },
    acceptPendingFollows(o) {
      settle(ctx);
      return target.acceptPendingFollows(o);
    },
    setAutoAccept: (ms) => target.setAutoAccept(ms),
    setFollowLimit: (config) => target.setFollowLimit(config),
    resetFollowLimits: () => target.resetFollowLimits(),
    setOrigin: (host, origin) => fed.setOrigin(host, origin),
    authorize: (username, authorizeUrl) => seed.authorizeAs(ctx, username, authorizeUrl),
    addList: (username, title, members, o) =>
      seedSnapshot.addList(ctx, username, title, members, o),
    block: (username, acct) => seedSnapshot.block(ctx, username, acct),
    mute: (username, acct, o) => seedSnapshot.mute(ctx, username, acct, o),
    blockDomain: (username, domain) => seedSnapshot.blockDomain(ctx, username, domain),
    bookmark: (username, statusUri, o) => seedSnapshot.bookmark(ctx, username, statusUri, o),
    seedSnapshot: (username, s) => seedSnapshot.seedSnapshot(ctx, username, s),
    snapshotOf: (username) => seedSnapshot.snapshotOf(ctx, username),
    setRateLimit: (config) => ctx.rack.configure(RateLimitSchema.nullable().parse(config)),
    resetRateLimits: () => ctx.rack.reset(),
  };
  const closeAll = async () => {
    streaming.close();
    await close();
  };
  const sandbox: MastodonSandbox = Object.assign(pipeline.controls(closeAll), seeding);

  const control = chainControls(mastodonControl(sandbox, ctx), dmControlRoutes(dm));
  pipeline.serve(server, mastodonStages(ctx, control));
  return sandbox;
}
