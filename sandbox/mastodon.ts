/**
 * A strict stand-in for a Mastodon server (4.x), on 127.0.0.1, for the parts fedimove reads:
 * verify_credentials, accounts show/lookup, following/followers with Link pagination,
 * relationships, instance v1/v2 and nodeinfo; OAuth (apps, /oauth/authorize, token, revoke,
 * discovery: mastodon-oauth.ts); the collections a user exports (lists, blocks, mutes,
 * domain blocks, bookmarks: mastodon-snapshot.ts); search v2 and follow/unfollow with the
 * follows RateLimiter, as the server a user moves to (mastodon-target.ts); WebFinger, actors,
 * collections, aliases and the Move with followers leaving (mastodon-federation.ts). It copies Mastodon's behaviour rather than
 * accepting anything: Doorkeeper's 401/403 bodies, Rack::Attack's fixed-window throttles and
 * headers, record-id cursors, `next` only on full pages, Rails' integer casting of params,
 * the HTML 404 for routes that don't exist. See /work/shared/reference/apis.md (A1–A5).
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
 *   GET  /_sandbox/requests          → RequestLogEntry[]
 *   POST /_sandbox/reset-log
 *
 * As a follow target and for the Move (mastodon-target.ts, mastodon-federation.ts):
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
 * Bad input gets 400 {"error": …}.
 */

import { randomUUID } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import { z } from "zod";
import { nginxErrorPage } from "./html.js";
import {
  DropFaultSchema,
  FaultHeadersSchema,
  FaultPathSchema,
  HangFaultSchema,
  jsonReply,
  listenLocal,
  type Fault as PipelineFault,
  RequestPipeline,
  type StatusFault,
  StatusFaultSchema,
} from "./http-pipeline.js";
import { ActivityPubRoutes } from "./mastodon-activitypub.js";
import {
  type MastodonAccount,
  serializeAccount,
  serializeCredentialAccount,
  serializeRelationship,
} from "./mastodon-entities.js";
import { Federation, type ResolvableOptions, ValidationError } from "./mastodon-federation.js";
import {
  apiJson,
  BadRequestError,
  bigCursor,
  internalError,
  JSON_TYPE,
  limitParam,
  linkHeader,
  type Params,
  paginateByMaxId,
  paramsFromSearch,
  plainJson,
  type Reply,
  readParams,
  routingError,
} from "./mastodon-http.js";
import {
  type MigrationRecord,
  Migrations,
  type PerformMoveOptions,
  TransferSchema,
} from "./mastodon-move.js";
import {
  type AuthorizeResult,
  type OAuthError,
  OAuthProvider,
  signInRedirect,
} from "./mastodon-oauth.js";
import { appOfToken, registerApp, serializeApp, VAPID_PUBLIC_KEY } from "./mastodon-oauth-apps.js";
import { MASTODON_500_HTML } from "./mastodon-pages.js";
import type { OriginOf, ResolveActor } from "./mastodon-resolve.js";
import {
  type AccountRow,
  acctParts,
  type FollowRow,
  parseVersion,
  type TokenRow,
} from "./mastodon-rows.js";
import { type AccountSnapshot, readSnapshot, snapshotRoute } from "./mastodon-snapshot.js";
import { Store } from "./mastodon-store.js";
import {
  type AcceptFollowsOptions,
  type FollowLimitConfig,
  FollowLimitSchema,
  FollowTarget,
} from "./mastodon-target.js";
import {
  DEFAULT_RATE_LIMIT,
  RackAttack,
  type RateLimitConfig,
  successHeaders,
  type ThrottleOutcome,
  throttledHeaders,
} from "./mastodon-throttle.js";

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
export type { AuthorizeResult, OAuthError } from "./mastodon-oauth.js";
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

// ---- public types -----------------------------------------------------------------------

export interface MastodonSandboxOptions {
  /** 0 / omitted: any free port. */
  port?: number;
  /** LOCAL_DOMAIN used in acct and URLs. Default "127.0.0.1:PORT". */
  domain?: string;
  /** Reported by /api/v1/instance, /api/v2/instance and nodeinfo. Default "4.3.2". */
  version?: string;
  /** Default 300 requests / 5 min per token and per IP (paging 300 / 15 min). null: no throttling. */
  rateLimit?: RateLimitConfig | null;
  /** configuration.statuses.max_characters. Default 500. */
  maxCharacters?: number;
  /** Clock for the rate-limit windows and X-RateLimit-Reset (ms since epoch). Default Date.now. */
  now?: () => number;
  /**
   * ResolveAccountService for remote accts that are neither known nor registered with
   * addResolvable (search resolve=true, aliases, the Move's target). Default: WebFinger and
   * the actor over HTTP from originOf(host).
   */
  resolveActor?: ResolveActor;
  /**
   * Where to fetch https://HOST/… from, for the default resolveActor: e.g. map "new.example"
   * to another sandbox's url. Default: loopback hosts over http, anything else unreachable.
   */
  originOf?: OriginOf;
  /** RateLimiter family :follows. Default 400 per 24 h; null: unlimited (and no headers). */
  followLimit?: FollowLimitConfig | null;
  /** Remote unlocked accounts Accept follow requests after this many ms (sandbox clock). Default: only acceptPendingFollows(). */
  autoAcceptFollowsMs?: number | null;
}

export interface AddAccountOptions {
  username: string;
  displayName?: string;
  locked?: boolean;
  hideCollections?: boolean;
  discoverable?: boolean;
  bot?: boolean;
  /** HTML, as Mastodon stores the rendered bio. */
  note?: string;
}

export interface RemoteAccountOptions {
  displayName?: string;
  locked?: boolean;
  bot?: boolean;
  discoverable?: boolean | null;
  hideCollections?: boolean | null;
  /** The totals the remote actor reports (Mastodon copies them; it doesn't count). */
  followersCount?: number;
  followingCount?: number;
  statusesCount?: number;
}

export interface FollowOptions {
  showReblogs?: boolean;
  notify?: boolean;
  languages?: string[] | null;
  /** Create a FollowRequest instead (relationships: requested: true; not in the lists). */
  pending?: boolean;
}

export interface SnapshotListRecord {
  id: string;
  title: string;
  members: string[];
}

export interface SeedOptions {
  /** Domains to spread the remote accounts over. Default: six *.example domains. */
  domains?: string[];
}

export interface FollowRecord {
  /** The Follow (or FollowRequest) record id: what max_id/since_id refer to. */
  id: string;
  accountId: string;
  acct: string;
  targetAccountId: string;
  targetAcct: string;
  showReblogs: boolean;
  notify: boolean;
  languages: string[] | null;
  requested: boolean;
}

/** A status to answer with, a hang or a dropped connection, optionally only under `path`. */
export type Fault = PipelineFault;

export interface RequestLogEntry {
  method: string;
  /** Path and query as received. */
  path: string;
  /** 0 when no response was sent (hang, drop, client gave up). */
  status: number;
  /** Doorkeeper token id (also for revoked tokens); null without a known token. */
  tokenId: string | null;
  /** Arrival, ms since epoch (wall clock). */
  time: number;
  durationMs: number;
}

export interface MuteOptions {
  /** Mute#hide_notifications. Default true (as the API's `notifications` param). */
  hideNotifications?: boolean;
  /** A temporary mute: seconds from now (sandbox clock). Default: indefinite. */
  expiresIn?: number;
}

export interface ListOptions {
  repliesPolicy?: "followed" | "list" | "none";
  /** 4.2+ */
  exclusive?: boolean;
}

export interface BookmarkOptions {
  /** Author of a status whose URI isn't Mastodon-shaped (…/users/NAME/statuses/ID). Default author@host. */
  author?: string;
  /** HTML. Default: a short paragraph. */
  content?: string;
  /** The status' url. Default: https://host/@user/ID for Mastodon-shaped URIs, else the URI. */
  url?: string | null;
}

/** For seedSnapshot: a number makes that many generated entries, an array names them. */
export interface SnapshotSeed {
  lists?:
    | number
    | {
        title: string;
        /** accts (followed first if needed), or a number of generated members */
        members?: string[] | number;
        repliesPolicy?: "followed" | "list" | "none";
        exclusive?: boolean;
      }[];
  blocks?: number | string[];
  mutes?: number | (string | ({ acct: string } & MuteOptions))[];
  domainBlocks?: number | string[];
  /** status URIs */
  bookmarks?: number | string[];
  /** Domains for generated accounts and statuses. Default: six *.example domains. */
  domains?: string[];
}

export interface MastodonSandbox {
  /** http://127.0.0.1:PORT — give this to masto's createRestAPIClient. */
  readonly url: string;
  readonly port: number;
  readonly domain: string;
  readonly version: string;
  addAccount(opts: AddAccountOptions): MastodonAccount;
  addRemoteAccount(acct: string, opts?: RemoteAccountOptions): MastodonAccount;
  /** The account as the API would serve it (username for local, user@host for remote). */
  getAccount(acct: string): MastodonAccount | undefined;
  follow(follower: string, target: string, opts?: FollowOptions): FollowRecord;
  unfollow(follower: string, target: string): boolean;
  seedFollows(username: string, n: number, opts?: SeedOptions): FollowRecord[];
  seedFollowers(username: string, n: number, opts?: SeedOptions): FollowRecord[];
  issueToken(username: string, scopes?: string[]): string;
  revokeToken(token: string): boolean;
  /** Sets `moved` with no checks and no followers leaving (see performMove for the real thing). */
  moveAccount(username: string, targetAcct: string): MastodonAccount;
  /** A remote account this server can WebFinger although it doesn't know it yet (registering again replaces it). */
  addResolvable(acct: string, opts?: ResolvableOptions): void;
  /** Account#locked (manuallyApprovesFollowers). */
  setLocked(username: string, locked: boolean): MastodonAccount;
  /**
   * Settings → Aliases → add: resolves the acct (through addResolvable or resolveActor) and
   * appends its actor URI to also_known_as; an http(s) actor URI is appended as it is.
   * Returns also_known_as. Rejects with ValidationError ("Acct could not be found", …).
   */
  addAlias(username: string, acctOrActorUri: string): Promise<string[]>;
  removeAlias(username: string, acctOrActorUri: string): boolean;
  alsoKnownAs(username: string): string[];
  /** The actor id other servers know the local account by: https://DOMAIN/users/USERNAME. */
  actorUri(username: string): string;
  /**
   * Settings → Moving to a different account, submitted: the target is fetched afresh and
   * AccountMigration's validations apply (ValidationError with Mastodon's messages); then
   * `moved` is set, local followers move at once and remote ones leave by opts.transfer.
   */
  performMove(
    username: string,
    targetAcct: string,
    opts?: PerformMoveOptions,
  ): Promise<MastodonAccount>;
  migrationsOf(username: string): MigrationRecord[];
  /** n remote followers of a moved account leave now (oldest follow first; stragglers stay). */
  transferNow(username: string, n: number): number;
  /** The accts still following the account, oldest follow first. */
  followersOf(username: string): string[];
  /** The remote Accepts arrive for pending follow requests of local accounts. Returns how many. */
  acceptPendingFollows(opts?: AcceptFollowsOptions): number;
  setAutoAccept(ms: number | null): void;
  /** Resets the follows counters. null: unlimited. */
  setFollowLimit(config: FollowLimitConfig | null): void;
  resetFollowLimits(): void;
  /**
   * Fetch https://HOST/… from `origin` (another sandbox's url) when resolving; consulted before
   * the originOf option, so sandboxes in separate processes can be wired after they start.
   */
  setOrigin(host: string, origin: string | null): void;
  /**
   * "username is signed in and clicks Authorize" on an /oauth/authorize URL (any host; only
   * its query counts). Throws an Error with `.oauth` = Doorkeeper's error when the request
   * would get the error page instead.
   */
  authorize(username: string, authorizeUrl: string): AuthorizeResult;
  /** A list owned by username; members the owner doesn't follow yet are followed first (ListAccount needs the Follow). */
  addList(
    username: string,
    title: string,
    memberAccts?: string[],
    opts?: ListOptions,
  ): SnapshotListRecord;
  /** BlockService: also removes follows and follow requests both ways. Returns the Block id. */
  block(username: string, acct: string): string;
  /** Returns the Mute id. Muting again updates the same record. */
  mute(username: string, acct: string, opts?: MuteOptions): string;
  /** Also removes follows to and from that domain (AfterBlockDomainFromAccountService). Returns the id. */
  blockDomain(username: string, domain: string): string;
  /** Bookmarks the status with that URI, creating it (and its remote author) if unknown. Returns the Bookmark id. */
  bookmark(username: string, statusUri: string, opts?: BookmarkOptions): string;
  seedSnapshot(username: string, seed: SnapshotSeed): AccountSnapshot;
  /** What Mastodon holds for the account: follows, followers, lists, blocks, mutes, domain blocks, bookmarks. */
  snapshotOf(username: string): AccountSnapshot;
  /** Resets all counters. null turns throttling (and the X-RateLimit-* headers) off. */
  setRateLimit(config: RateLimitConfig | null): void;
  resetRateLimits(): void;
  setLatency(ms: number): void;
  failNext(n: number, fault: Fault): void;
  readonly requests: readonly RequestLogEntry[];
  resetLog(): void;
  close(): Promise<void>;
}

// ---- validation (shared by the in-process API and the /_sandbox endpoints) ---------------

/** Account::USERNAME_RE, local usernames are at most 30 characters. */
const Username = z
  .string()
  .max(30)
  .regex(/^[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?$/i, "not a valid Mastodon username");
const Acct = z
  .string()
  .regex(/^@?[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?(@[a-z0-9.-]+(:\d+)?)?$/i, "not user or user@host");
const RemoteAcct = z
  .string()
  .regex(/^@?[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?@[a-z0-9.-]+(:\d+)?$/i, "not user@host");
const Count = z.number().int().min(0).max(1_000_000);
const Window = z.object({
  limit: z.number().int().min(0),
  windowMs: z.number().int().positive(),
});
const RateLimitSchema = Window.extend({
  perUser: Window.optional(),
  paging: Window.optional(),
  appRegistrations: Window.optional(),
});
const ScopesSchema = z.array(z.string().regex(/^[a-z:_]+$/)).min(1);

const AddAccountSchema = z.object({
  username: Username,
  displayName: z.string().max(30).optional(),
  locked: z.boolean().optional(),
  hideCollections: z.boolean().optional(),
  discoverable: z.boolean().optional(),
  bot: z.boolean().optional(),
  note: z.string().optional(),
});
const RemoteAccountSchema = z.object({
  displayName: z.string().optional(),
  locked: z.boolean().optional(),
  bot: z.boolean().optional(),
  discoverable: z.boolean().nullable().optional(),
  hideCollections: z.boolean().nullable().optional(),
  followersCount: Count.optional(),
  followingCount: Count.optional(),
  statusesCount: Count.optional(),
});
const FollowOptionsSchema = z.object({
  showReblogs: z.boolean().optional(),
  notify: z.boolean().optional(),
  languages: z
    .array(z.string().regex(/^[a-z]{2,3}(-[A-Za-z]+)?$/))
    .nullable()
    .optional(),
  pending: z.boolean().optional(),
});
const SeedOptionsSchema = z.object({
  domains: z
    .array(z.string().regex(/^[a-z0-9.-]+$/))
    .min(1)
    .optional(),
});
const FaultSchema = z
  .union([StatusFaultSchema.extend(FaultHeadersSchema.shape), HangFaultSchema, DropFaultSchema])
  .and(FaultPathSchema);
const OptionsSchema = z.object({
  port: z.number().int().min(0).max(65535).optional(),
  domain: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d+)?$/i)
    .optional(),
  version: z
    .string()
    .regex(/^\d+\.\d+\.\d+/)
    .optional(),
  rateLimit: RateLimitSchema.nullable().optional(),
  maxCharacters: z.number().int().positive().optional(),
});

const DomainName = z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+(:\d+)?$/i, "not a domain");
const StatusUri = z.url();
const MuteOptionsSchema = z.object({
  hideNotifications: z.boolean().optional(),
  expiresIn: z.number().int().positive().optional(),
});
const ListOptionsSchema = z.object({
  repliesPolicy: z.enum(["followed", "list", "none"]).optional(),
  exclusive: z.boolean().optional(),
});
const BookmarkOptionsSchema = z.object({
  author: RemoteAcct.optional(),
  content: z.string().optional(),
  url: z.string().nullable().optional(),
});
const SnapshotSeedSchema = z.object({
  lists: z
    .union([
      Count,
      z.array(
        ListOptionsSchema.extend({
          title: z.string().min(1).max(30),
          members: z.union([z.array(Acct), Count]).optional(),
        }),
      ),
    ])
    .optional(),
  blocks: z.union([Count, z.array(Acct)]).optional(),
  mutes: z
    .union([Count, z.array(z.union([Acct, MuteOptionsSchema.extend({ acct: Acct })]))])
    .optional(),
  domainBlocks: z.union([Count, z.array(DomainName)]).optional(),
  bookmarks: z.union([Count, z.array(StatusUri)]).optional(),
  domains: z
    .array(z.string().regex(/^[a-z0-9.-]+$/))
    .min(1)
    .optional(),
});

const CONTROL = {
  addAccount: AddAccountSchema,
  addRemoteAccount: RemoteAccountSchema.extend({ acct: RemoteAcct }),
  follow: FollowOptionsSchema.extend({ follower: Acct, target: Acct }),
  unfollow: z.object({ follower: Acct, target: Acct }),
  seed: SeedOptionsSchema.extend({ username: Username, n: Count }),
  issueToken: z.object({ username: Username, scopes: ScopesSchema.optional() }),
  revokeToken: z.object({ token: z.string() }),
  move: z.object({ username: Username, target: Acct }),
  rateLimit: RateLimitSchema.nullable(),
  authorize: z.object({ username: Username, url: z.string() }),
  list: ListOptionsSchema.extend({
    username: Username,
    title: z.string().min(1).max(30),
    members: z.array(Acct).optional(),
  }),
  block: z.object({ username: Username, acct: Acct }),
  mute: MuteOptionsSchema.extend({ username: Username, acct: Acct }),
  domainBlock: z.object({ username: Username, domain: DomainName }),
  bookmark: BookmarkOptionsSchema.extend({ username: Username, statusUri: StatusUri }),
  snapshot: SnapshotSeedSchema.extend({ username: Username }),
  resolvable: z.looseObject({ acct: RemoteAcct }),
  acceptFollows: z.object({
    follower: Acct.optional(),
    target: Acct.optional(),
    includeLocked: z.boolean().optional(),
  }),
  autoAccept: z.object({ ms: z.number().int().min(0).nullable() }),
  locked: z.object({ username: Username, locked: z.boolean() }),
  alias: z.object({ username: Username, acct: z.string().min(1) }),
  performMove: z.object({
    username: Username,
    target: Acct,
    at: z.number().int().min(0).optional(),
    transfer: TransferSchema.optional(),
  }),
  transfer: z.object({ username: Username, n: Count }),
  origins: z.object({ origins: z.record(z.string(), z.url().nullable()) }),
};

const DEFAULT_DOMAINS = [
  "mastodon.example",
  "fosstodon.example",
  "hachyderm.example",
  "mstdn.example",
  "kolektiva.example",
  "social.example",
];

// ---- HTTP plumbing ----------------------------------------------------------------------

interface Ctx {
  req: IncomingMessage;
  path: string;
  query: URLSearchParams;
  /** request.parameters: query merged with the parsed body. */
  params: Params;
  /** Doorkeeper::OAuth::Token.authenticate: the row for a known token string, even if revoked. */
  token: TokenRow | null;
  host: string;
  /** Rack::Attack's data for this request and the time it was checked at. */
  throttle: ThrottleOutcome | null;
  nowMs: number;
}

/** Doorkeeper access_token_methods: from_bearer_authorization, from_access_token_param, from_bearer_param */
function tokenString(req: IncomingMessage, query: URLSearchParams): string | null {
  const header = req.headers.authorization;
  if (header && /^Bearer /i.test(header)) return header.replace(/^Bearer /i, "");
  return query.get("access_token") || query.get("bearer_token") || null;
}

function isTrustedProxy(ip: string): boolean {
  return (
    ip === "::1" ||
    /^127\./.test(ip) ||
    /^10\./.test(ip) ||
    /^192\.168\./.test(ip) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(ip) ||
    /^f[cd][0-9a-f]{2}:/i.test(ip) ||
    /^fe80:/i.test(ip)
  );
}

function normalizeIp(ip: string): string {
  return ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
}

/** ActionDispatch::RemoteIp (X-Forwarded-For from trusted proxies), then Rack::Attack's /64 for IPv6. */
function throttleableIp(req: IncomingMessage): string {
  const remote = normalizeIp(req.socket.remoteAddress ?? "127.0.0.1");
  let ip = remote;
  const xff = req.headers["x-forwarded-for"];
  if (typeof xff === "string" && isTrustedProxy(remote)) {
    const chain = xff
      .split(",")
      .map((s) => normalizeIp(s.trim()))
      .filter(Boolean);
    ip = [...chain].reverse().find((c) => !isTrustedProxy(c)) ?? chain[0] ?? remote;
  }
  if (!ip.includes(":")) return ip;
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::`;
}

/** Rack::Attack::Request#paging_request?: page, min_id, max_id or since_id present (non-blank). */
function isPagingRequest(query: URLSearchParams): boolean {
  for (const [key, value] of query) {
    const name = key.replace(/\[.*$/, "");
    if (["page", "min_id", "max_id", "since_id"].includes(name) && value.trim() !== "") return true;
  }
  return false;
}

// ---- the sandbox --------------------------------------------------------------------------

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
  const version = options.version ?? "4.3.2";
  const maxCharacters = options.maxCharacters ?? 500;

  const { server, port, url, close } = await listenLocal(options.port ?? 0);
  const domain = options.domain ?? `127.0.0.1:${port}`;
  const store = new Store(
    domain,
    options.domain ? `https://${domain}` : url,
    parseVersion(version),
    clock,
  );
  const oauth = new OAuthProvider(store);
  const fed = new Federation(store, {
    ...(resolveActor ? { resolveActor } : {}),
    ...(originOf ? { originOf } : {}),
  });
  const moves = new Migrations(store, fed, clock);
  const activityPub = new ActivityPubRoutes(store);
  const target = new FollowTarget(store, fed, clock);
  if (followLimit !== undefined) target.setFollowLimit(followLimit);
  if (autoAcceptFollowsMs !== undefined) target.setAutoAccept(autoAcceptFollowsMs);
  /** Lets what is due by the sandbox clock happen: auto-accepts, followers leaving. */
  const settle = () => {
    const now = clock();
    target.settle(now);
    moves.settle(now);
  };
  const rack = new RackAttack(
    options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit,
  );
  let seedSeq = 0;

  // ---- seeding --------------------------------------------------------------------------

  const localAccount = (username: string): AccountRow => store.local(username);

  /** Resolve an acct; unknown remote accounts are created (as if fetched). */
  const resolveAcct = (acct: string): AccountRow => {
    const existing = store.findByAcct(acct);
    if (existing) return existing;
    const { username, domain: d } = acctParts(acct);
    if (store.isLocalDomain(d)) throw new Error(`no local account ${username}`);
    return store.createAccount({ username, domain: d });
  };

  const record = (f: FollowRow): FollowRecord => {
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
  };

  const addRemote = (acct: string, o: RemoteAccountOptions = {}): AccountRow => {
    const { username, domain: d } = acctParts(RemoteAcct.parse(acct));
    const r = RemoteAccountSchema.parse(o);
    return store.createAccount({
      username,
      domain: d,
      displayName: r.displayName ?? "",
      locked: r.locked ?? false,
      bot: r.bot ?? false,
      discoverable: r.discoverable ?? null,
      hideCollections: r.hideCollections ?? null,
      reportedFollowers: r.followersCount ?? 0,
      reportedFollowing: r.followingCount ?? 0,
      statusesCount: r.statusesCount ?? 0,
    });
  };

  /** n remote accounts with varied, deterministic profiles. */
  const seedRemote = (n: number, prefix: string, domains: string[]): AccountRow[] => {
    const out: AccountRow[] = [];
    while (out.length < n) {
      const k = ++seedSeq;
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
  };

  const api = {
    addAccount(o: AddAccountOptions): MastodonAccount {
      const a = AddAccountSchema.parse(o);
      const row = store.createAccount({
        username: a.username,
        domain: null,
        displayName: a.displayName ?? "",
        locked: a.locked ?? false,
        hideCollections: a.hideCollections ?? false,
        discoverable: a.discoverable ?? false,
        bot: a.bot ?? false,
        note: a.note ?? "",
      });
      return serializeAccount(store, row);
    },
    addRemoteAccount(acct: string, o?: RemoteAccountOptions): MastodonAccount {
      return serializeAccount(store, addRemote(acct, o));
    },
    getAccount(acct: string): MastodonAccount | undefined {
      settle();
      const row = store.findByAcct(acct);
      return row ? serializeAccount(store, row) : undefined;
    },
    follow(follower: string, target: string, o: FollowOptions = {}): FollowRecord {
      const f = FollowOptionsSchema.parse(o);
      return record(
        store.follow(resolveAcct(Acct.parse(follower)), resolveAcct(Acct.parse(target)), f),
      );
    },
    unfollow(follower: string, target: string): boolean {
      const a = store.findByAcct(follower);
      const t = store.findByAcct(target);
      return a !== undefined && t !== undefined && store.unfollow(a, t);
    },
    seedFollows(username: string, n: number, o: SeedOptions = {}): FollowRecord[] {
      const owner = localAccount(username);
      const count = Count.parse(n);
      const { domains = DEFAULT_DOMAINS } = SeedOptionsSchema.parse(o);
      return seedRemote(count, "friend", domains).map((acc, i) =>
        record(
          store.follow(owner, acc, {
            showReblogs: i % 5 !== 1,
            notify: i % 7 === 2,
            languages: i % 3 === 0 ? ["en", "de"] : null,
          }),
        ),
      );
    },
    seedFollowers(username: string, n: number, o: SeedOptions = {}): FollowRecord[] {
      const owner = localAccount(username);
      const count = Count.parse(n);
      const { domains = DEFAULT_DOMAINS } = SeedOptionsSchema.parse(o);
      return seedRemote(count, "fan", domains).map((acc, i) =>
        record(store.follow(acc, owner, { showReblogs: i % 4 !== 3, notify: i % 9 === 0 })),
      );
    },
    issueToken(username: string, scopes: string[] = ["read"]): string {
      return store.issueToken(localAccount(username), ScopesSchema.parse(scopes)).token;
    },
    revokeToken(token: string): boolean {
      const row = store.tokens.get(token);
      if (!row || row.revoked) return false;
      row.revoked = true;
      return true;
    },
    moveAccount(username: string, targetAcct: string): MastodonAccount {
      const source = localAccount(username);
      const target = resolveAcct(Acct.parse(targetAcct));
      if (target === source) throw new Error("move_to_self");
      if (source.movedToAccountId !== null) throw new Error("already_moved");
      source.movedToAccountId = target.id;
      return serializeAccount(store, source);
    },
    setRateLimit(config: RateLimitConfig | null): void {
      rack.configure(RateLimitSchema.nullable().parse(config));
    },
    resetRateLimits(): void {
      rack.reset();
    },
    setLatency(ms: number): void {
      pipeline.setLatency(ms);
    },
    failNext(n: number, fault: Fault): void {
      pipeline.failNext(n, fault);
    },
    resetLog(): void {
      pipeline.resetLog();
    },
    addResolvable(acct: string, o?: ResolvableOptions): void {
      fed.addResolvable(acct, o);
    },
    setLocked(username: string, locked: boolean): MastodonAccount {
      return serializeAccount(store, fed.setLocked(username, locked));
    },
    addAlias(username: string, acctOrActorUri: string): Promise<string[]> {
      return fed.addAlias(username, acctOrActorUri);
    },
    removeAlias(username: string, acctOrActorUri: string): boolean {
      return fed.removeAlias(username, acctOrActorUri);
    },
    alsoKnownAs(username: string): string[] {
      return fed.alsoKnownAsOf(username);
    },
    actorUri(username: string): string {
      return store.uriOf(localAccount(username));
    },
    async performMove(
      username: string,
      targetAcct: string,
      o?: PerformMoveOptions,
    ): Promise<MastodonAccount> {
      settle();
      return serializeAccount(store, await moves.performMove(username, targetAcct, o));
    },
    migrationsOf(username: string): MigrationRecord[] {
      return moves.migrationsOf(username);
    },
    transferNow(username: string, n: number): number {
      return moves.transferNow(username, n);
    },
    followersOf(username: string): string[] {
      settle();
      return moves.followersOf(username);
    },
    acceptPendingFollows(o?: AcceptFollowsOptions): number {
      settle();
      return target.acceptPendingFollows(o);
    },
    setAutoAccept(ms: number | null): void {
      target.setAutoAccept(ms);
    },
    setFollowLimit(config: FollowLimitConfig | null): void {
      target.setFollowLimit(config);
    },
    resetFollowLimits(): void {
      target.resetFollowLimits();
    },
    setOrigin(host: string, origin: string | null): void {
      fed.setOrigin(host, origin);
    },
    authorize(username: string, authorizeUrl: string): AuthorizeResult {
      const account = localAccount(Username.parse(username));
      let parsed: URL;
      try {
        parsed = new URL(authorizeUrl, url);
      } catch {
        throw new Error(`not a URL: ${authorizeUrl}`);
      }
      if (parsed.pathname.replace(/\/+$/, "") !== "/oauth/authorize") {
        throw new Error(`not an /oauth/authorize URL: ${authorizeUrl}`);
      }
      const result = oauth.approve(account, paramsFromSearch(parsed.searchParams), url);
      if ("error" in result) {
        throw Object.assign(new Error(`${result.error}: ${result.error_description}`), {
          oauth: result,
        });
      }
      return result;
    },
    addList(
      username: string,
      title: string,
      memberAccts: string[] = [],
      o: ListOptions = {},
    ): SnapshotListRecord {
      const owner = localAccount(username);
      const t = z.string().min(1).max(30).parse(title);
      const lo = ListOptionsSchema.parse(o);
      const list = store.createList(owner, t, lo.repliesPolicy ?? "list", lo.exclusive ?? false);
      for (const acct of memberAccts) {
        const member = resolveAcct(Acct.parse(acct));
        if (member === owner) throw new Error("cannot add yourself to a list");
        if (!store.followOf(owner, member)) store.follow(owner, member, {});
        store.addListMember(list, member);
      }
      return {
        id: String(list.id),
        title: list.title,
        members: list.members.map((m) => store.acctOf(store.accounts.get(m.accountId)!)),
      };
    },
    block(username: string, acct: string): string {
      const owner = localAccount(username);
      const target = resolveAcct(Acct.parse(acct));
      if (target === owner) throw new Error("cannot block yourself");
      return String(store.block(owner, target).id);
    },
    mute(username: string, acct: string, o: MuteOptions = {}): string {
      const owner = localAccount(username);
      const target = resolveAcct(Acct.parse(acct));
      if (target === owner) throw new Error("cannot mute yourself");
      const mo = MuteOptionsSchema.parse(o);
      const expiresAt = mo.expiresIn === undefined ? null : clock() + mo.expiresIn * 1000;
      return String(store.mute(owner, target, mo.hideNotifications ?? true, expiresAt).id);
    },
    blockDomain(username: string, d: string): string {
      const owner = localAccount(username);
      const name = DomainName.parse(d).toLowerCase();
      if (store.isLocalDomain(name)) throw new Error("cannot block your own domain");
      return String(store.blockDomain(owner, name).id);
    },
    bookmark(username: string, statusUri: string, o: BookmarkOptions = {}): string {
      const owner = localAccount(username);
      const status = findOrCreateStatus(StatusUri.parse(statusUri), BookmarkOptionsSchema.parse(o));
      return String(store.bookmark(owner, status).id);
    },
    seedSnapshot(username: string, seed: SnapshotSeed): AccountSnapshot {
      const owner = localAccount(username);
      const sp = SnapshotSeedSchema.parse(seed);
      const domains = sp.domains ?? DEFAULT_DOMAINS;
      const gen = (prefix: string, n: number) => seedRemote(n, prefix, domains);
      if (sp.lists !== undefined) {
        type ListSpec = Exclude<(typeof sp)["lists"], number | undefined>[number];
        const specs: ListSpec[] =
          typeof sp.lists === "number"
            ? Array.from({ length: sp.lists }, (_, i) => ({
                title: `List ${i + 1}`,
                members: 3 + (i % 4),
              }))
            : sp.lists;
        for (const spec of specs) {
          const members =
            typeof spec.members === "number"
              ? gen("member", spec.members).map((a) => store.acctOf(a))
              : (spec.members ?? []);
          api.addList(username, spec.title, members, {
            ...(spec.repliesPolicy ? { repliesPolicy: spec.repliesPolicy } : {}),
            ...(spec.exclusive !== undefined ? { exclusive: spec.exclusive } : {}),
          });
        }
      }
      if (sp.blocks !== undefined) {
        const targets =
          typeof sp.blocks === "number" ? gen("blocked", sp.blocks) : sp.blocks.map(resolveAcct);
        for (const t of targets) store.block(owner, t);
      }
      if (sp.mutes !== undefined) {
        if (typeof sp.mutes === "number") {
          gen("muted", sp.mutes).forEach((t, i) => {
            store.mute(owner, t, i % 3 !== 0, null);
          });
        } else {
          for (const m of sp.mutes) {
            const { acct, ...mo } = typeof m === "string" ? { acct: m } : m;
            api.mute(username, acct, mo);
          }
        }
      }
      if (sp.domainBlocks !== undefined) {
        const names =
          typeof sp.domainBlocks === "number"
            ? Array.from({ length: sp.domainBlocks }, () => `blocked${++seedSeq}.example`)
            : sp.domainBlocks;
        for (const d of names) api.blockDomain(username, d);
      }
      if (sp.bookmarks !== undefined) {
        if (typeof sp.bookmarks === "number") {
          for (const author of gen("poster", sp.bookmarks)) {
            const status = store.createStatus({
              accountId: author.id,
              uri: `https://${author.domain}/users/${author.username}/statuses/${100_000 + ++seedSeq}`,
              url: `https://${author.domain}/@${author.username}/${100_000 + seedSeq}`,
              content: `<p>Post by ${author.username}</p>`,
              createdAt: new Date(clock()),
              visibility: "public",
              language: "en",
            });
            store.bookmark(owner, status);
          }
        } else {
          for (const uri of sp.bookmarks) api.bookmark(username, uri);
        }
      }
      return readSnapshot(store, owner);
    },
    snapshotOf(username: string): AccountSnapshot {
      settle();
      return readSnapshot(store, localAccount(username));
    },
  };

  /** The status with that URI, or a new one (a local status when the URI is this server's). */
  const findOrCreateStatus = (uri: string, o: z.infer<typeof BookmarkOptionsSchema>) => {
    const existing = store.statusesByUri.get(uri);
    if (existing) return existing;
    const u = new URL(uri);
    const shaped = /^\/users\/([^/]+)\/statuses\/([^/]+)$/.exec(u.pathname);
    const local = `${u.protocol}//${u.host}` === store.publicBase;
    let author: AccountRow;
    if (local) {
      if (!shaped) throw new Error(`not a local status URI: ${uri}`);
      author = localAccount(shaped[1]!);
    } else if (o.author) {
      author = resolveAcct(o.author);
    } else {
      author = resolveAcct(`${shaped ? shaped[1] : "author"}@${u.host}`);
    }
    const url =
      o.url !== undefined
        ? o.url
        : local || shaped
          ? `${u.protocol}//${u.host}/@${author.username}/${shaped![2]}`
          : uri;
    return store.createStatus({
      accountId: author.id,
      uri,
      url,
      content: o.content ?? "<p>A bookmarked post</p>",
      createdAt: new Date(clock()),
      visibility: "public",
      language: "en",
    });
  };

  // ---- /_sandbox control endpoints -------------------------------------------------------

  const ok = (body: unknown, status = 200) => jsonReply(status, body);
  const control = {
    get(path: string, query: URLSearchParams) {
      const username = query.get("username") ?? "";
      switch (path) {
        case "/_sandbox/snapshot":
          return ok(api.snapshotOf(username));
        case "/_sandbox/followers": {
          const followers = api.followersOf(username);
          return ok({ count: followers.length, followers });
        }
        case "/_sandbox":
          return ok({ url, domain, version, accounts: store.accounts.size });
        default:
          return undefined;
      }
    },
    async post(path: string, input: unknown) {
      switch (path) {
        case "/_sandbox/accounts":
          return ok(api.addAccount(CONTROL.addAccount.parse(input)), 201);
        case "/_sandbox/remote-accounts": {
          const { acct, ...o } = CONTROL.addRemoteAccount.parse(input);
          return ok(api.addRemoteAccount(acct, o), 201);
        }
        case "/_sandbox/follows": {
          const { follower, target, ...o } = CONTROL.follow.parse(input);
          return ok(api.follow(follower, target, o), 201);
        }
        case "/_sandbox/unfollow": {
          const { follower, target } = CONTROL.unfollow.parse(input);
          return ok({ removed: api.unfollow(follower, target) });
        }
        case "/_sandbox/seed-follows": {
          const { username, n, ...o } = CONTROL.seed.parse(input);
          return ok({ count: api.seedFollows(username, n, o).length }, 201);
        }
        case "/_sandbox/seed-followers": {
          const { username, n, ...o } = CONTROL.seed.parse(input);
          return ok({ count: api.seedFollowers(username, n, o).length }, 201);
        }
        case "/_sandbox/tokens": {
          const { username, scopes } = CONTROL.issueToken.parse(input);
          return ok({ token: api.issueToken(username, scopes) }, 201);
        }
        case "/_sandbox/revoke-token":
          return ok({ revoked: api.revokeToken(CONTROL.revokeToken.parse(input).token) });
        case "/_sandbox/move": {
          const { username, target } = CONTROL.move.parse(input);
          return ok(api.moveAccount(username, target));
        }
        case "/_sandbox/rate-limit":
          api.setRateLimit(CONTROL.rateLimit.parse(input));
          return ok({});
        case "/_sandbox/reset-rate-limits":
          api.resetRateLimits();
          return ok({});
        case "/_sandbox/authorize": {
          const { username, url: authorizeUrl } = CONTROL.authorize.parse(input);
          try {
            return ok(api.authorize(username, authorizeUrl));
          } catch (err) {
            const e = (err as { oauth?: OAuthError }).oauth;
            if (e) return ok({ error: e.error, error_description: e.error_description }, 400);
            throw err;
          }
        }
        case "/_sandbox/lists": {
          const { username, title, members, ...o } = CONTROL.list.parse(input);
          return ok(api.addList(username, title, members, o), 201);
        }
        case "/_sandbox/blocks": {
          const { username, acct } = CONTROL.block.parse(input);
          return ok({ id: api.block(username, acct) }, 201);
        }
        case "/_sandbox/mutes": {
          const { username, acct, ...o } = CONTROL.mute.parse(input);
          return ok({ id: api.mute(username, acct, o) }, 201);
        }
        case "/_sandbox/domain-blocks": {
          const { username, domain: d } = CONTROL.domainBlock.parse(input);
          return ok({ id: api.blockDomain(username, d) }, 201);
        }
        case "/_sandbox/bookmarks": {
          const { username, statusUri, ...o } = CONTROL.bookmark.parse(input);
          return ok({ id: api.bookmark(username, statusUri, o) }, 201);
        }
        case "/_sandbox/snapshot": {
          const { username, ...seed } = CONTROL.snapshot.parse(input);
          return ok(api.seedSnapshot(username, seed), 201);
        }
        case "/_sandbox/resolvables": {
          const { acct, ...o } = CONTROL.resolvable.parse(input);
          api.addResolvable(acct, o as ResolvableOptions);
          return ok({}, 201);
        }
        case "/_sandbox/accept-follows":
          return ok({ accepted: api.acceptPendingFollows(CONTROL.acceptFollows.parse(input)) });
        case "/_sandbox/auto-accept":
          api.setAutoAccept(CONTROL.autoAccept.parse(input).ms);
          return ok({});
        case "/_sandbox/follow-limit":
          api.setFollowLimit(FollowLimitSchema.nullable().parse(input));
          return ok({});
        case "/_sandbox/reset-follow-limits":
          api.resetFollowLimits();
          return ok({});
        case "/_sandbox/locked": {
          const { username, locked } = CONTROL.locked.parse(input);
          return ok(api.setLocked(username, locked));
        }
        case "/_sandbox/aliases": {
          const { username, acct } = CONTROL.alias.parse(input);
          return ok({ alsoKnownAs: await api.addAlias(username, acct) }, 201);
        }
        case "/_sandbox/remove-alias": {
          const { username, acct } = CONTROL.alias.parse(input);
          const removed = api.removeAlias(username, acct);
          return ok({ removed, alsoKnownAs: api.alsoKnownAs(username) });
        }
        case "/_sandbox/perform-move": {
          const { username, target: to, ...o } = CONTROL.performMove.parse(input);
          return ok(await api.performMove(username, to, o));
        }
        case "/_sandbox/origins": {
          for (const [host, origin] of Object.entries(CONTROL.origins.parse(input).origins)) {
            api.setOrigin(host, origin);
          }
          return ok({});
        }
        case "/_sandbox/transfer": {
          const { username, n } = CONTROL.transfer.parse(input);
          const moved = api.transferNow(username, n);
          return ok({ moved, remaining: api.followersOf(username).length });
        }
        default:
          return undefined;
      }
    },
    error(err: unknown) {
      if (err instanceof ValidationError) {
        return ok({ error: err.message, errors: err.errors }, 422);
      }
      return undefined;
    },
  };

  // ---- the Mastodon API -----------------------------------------------------------------

  /** doorkeeper_authorize!(*scopes) with Mastodon's render options. */
  const doorkeeperAuthorize = (ctx: Ctx, scopes: string[]): Reply | null => {
    const token = ctx.token;
    if (token === null || token.revoked) {
      const description = token?.revoked
        ? "The access token was revoked"
        : "The access token is invalid";
      return apiJson(
        401,
        { error: description },
        {
          "WWW-Authenticate": `Bearer realm="Doorkeeper", error="invalid_token", error_description="${description}"`,
        },
      );
    }
    if (scopes.length > 0 && !scopes.some((s) => token.scopes.includes(s))) {
      return apiJson(
        403,
        { error: "This action is outside the authorized scopes" },
        { "WWW-Authenticate": 'Bearer realm="Doorkeeper", error="insufficient_scope"' },
      );
    }
    return null;
  };

  /** authorize_if_got_token!: only when Doorkeeper found a token (unknown strings are ignored). */
  const authorizeIfGotToken = (ctx: Ctx, scopes: string[]): Reply | null =>
    ctx.token === null ? null : doorkeeperAuthorize(ctx, scopes);

  /** Api::BaseController#require_user! — User#functional? is false once the account has moved. */
  const requireUser = (ctx: Ctx): Reply | null => {
    const id = ctx.token?.accountId;
    const me = id ? store.accounts.get(id) : undefined;
    if (!me) return apiJson(422, { error: "This method requires an authenticated user" });
    if (me.movedToAccountId !== null) {
      return apiJson(403, { error: "Your login is currently disabled" });
    }
    return null;
  };

  const currentAccount = (ctx: Ctx): AccountRow | undefined =>
    ctx.token && !ctx.token.revoked && ctx.token.accountId !== null
      ? store.accounts.get(ctx.token.accountId)
      : undefined;

  const recordNotFound = (): Reply => apiJson(404, { error: "Record not found" });

  const accountList = (ctx: Ctx, rawId: string, kind: "following" | "followers"): Reply => {
    const denied = authorizeIfGotToken(ctx, ["read", "read:accounts"]);
    if (denied) return denied;
    const account = store.findById(rawId);
    if (!account) return recordNotFound();

    const limitRaw = ctx.query.get("limit");
    // limit_param(DEFAULT_ACCOUNTS_LIMIT): [params[:limit].to_i.abs, 40 * 2].min
    const limit = limitParam(limitRaw, 40);
    const me = currentAccount(ctx);
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
          bigCursor(ctx.query.get("max_id")),
          bigCursor(ctx.query.get("since_id")),
        );
    const accounts = page.map(
      (f) => store.accounts.get(kind === "following" ? f.targetAccountId : f.accountId)!,
    );

    // after_action :insert_pagination_headers — with limit=0 Mastodon calls .id on nil: 500.
    let link: string | null;
    try {
      link = linkHeader({
        base: `http://${ctx.host}/api/v1/accounts/${rawId}/${kind}`,
        limitRaw,
        limit,
        size: page.length,
        firstId: page[0] === undefined ? undefined : String(page[0].id),
        lastId: page.at(-1) === undefined ? undefined : String(page.at(-1)!.id),
      });
    } catch {
      return internalError(ctx.req);
    }
    return apiJson(
      200,
      accounts.map((a) => serializeAccount(store, a)),
      link ? { Link: link } : undefined,
    );
  };

  const instanceV1 = () => ({
    uri: domain,
    title: "Mastodon",
    short_description: "",
    description: "",
    email: `admin@${domain.replace(/:\d+$/, "")}`,
    version,
    urls: { streaming_api: `wss://${domain}` },
    stats: {
      user_count: [...store.accounts.values()].filter((a) => a.domain === null).length,
      status_count: 0,
      domain_count: new Set([...store.accounts.values()].map((a) => a.domain).filter(Boolean)).size,
    },
    thumbnail: `${store.publicBase}/packs/media/images/preview.png`,
    languages: ["en"],
    registrations: false,
    approval_required: false,
    invites_enabled: false,
    configuration: {
      accounts: { max_featured_tags: 10 },
      statuses: {
        max_characters: maxCharacters,
        max_media_attachments: 4,
        characters_reserved_per_url: 23,
      },
      media_attachments: {
        supported_mime_types: ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
        image_size_limit: 16777216,
        image_matrix_limit: 33177600,
        video_size_limit: 103809024,
        video_frame_rate_limit: 120,
        video_matrix_limit: 8294400,
      },
      polls: {
        max_options: 4,
        max_characters_per_option: 50,
        min_expiration: 300,
        max_expiration: 2629746,
      },
    },
    contact_account: null,
    rules: [],
  });

  const instanceV2 = () => ({
    domain,
    title: "Mastodon",
    version,
    source_url: "https://github.com/mastodon/mastodon",
    description: "",
    usage: {
      users: {
        active_month: [...store.accounts.values()].filter((a) => a.domain === null).length,
      },
    },
    thumbnail: { url: `${store.publicBase}/packs/media/images/preview.png` },
    ...(store.atLeast(4, 3) ? { icon: [] } : {}),
    languages: ["en"],
    configuration: {
      urls: { streaming: `wss://${domain}`, status: null },
      vapid: { public_key: VAPID_PUBLIC_KEY },
      accounts: { max_featured_tags: 10, max_pinned_statuses: 5 },
      statuses: {
        max_characters: maxCharacters,
        max_media_attachments: 4,
        characters_reserved_per_url: 23,
      },
      media_attachments: {
        supported_mime_types: ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
        description_limit: 1500,
        image_size_limit: 16777216,
        image_matrix_limit: 33177600,
        video_size_limit: 103809024,
        video_frame_rate_limit: 120,
        video_matrix_limit: 8294400,
      },
      polls: {
        max_options: 4,
        max_characters_per_option: 50,
        min_expiration: 300,
        max_expiration: 2629746,
      },
      translation: { enabled: false },
    },
    registrations: { enabled: false, approval_required: false, message: null, url: null },
    ...(store.atLeast(4, 3) ? { api_versions: { mastodon: 2 } } : {}),
    contact: { email: `admin@${domain.replace(/:\d+$/, "")}`, account: null },
    rules: [],
  });

  const baseUrl = (ctx: Ctx): string => `http://${ctx.host}`;

  /** Routes that take a body: app registration and Doorkeeper's endpoints. */
  const routeWrite = (ctx: Ctx, method: string): Reply => {
    const { path, params } = ctx;
    const authorization = ctx.req.headers.authorization;
    if (method === "POST" && path === "/api/v1/apps") return registerApp(store, params);
    if (method === "POST" && path === "/oauth/token") return oauth.token(authorization, params);
    if (method === "POST" && path === "/oauth/revoke") return oauth.revoke(authorization, params);
    // Authorize / Deny need the signed-in browser session the stand-in doesn't have.
    if ((method === "POST" || method === "DELETE") && path === "/oauth/authorize") {
      return signInRedirect(baseUrl(ctx));
    }
    return routingError(ctx.req);
  };

  const route = (ctx: Ctx, method: string): Reply | Promise<Reply> => {
    const { path, query } = ctx;
    const targetReply = target.route(
      {
        req: ctx.req,
        path,
        query,
        params: ctx.params,
        authorize: (scopes) => doorkeeperAuthorize(ctx, scopes),
        authorizeIfGotToken: (scopes) => authorizeIfGotToken(ctx, scopes),
        requireUser: () => requireUser(ctx),
        currentAccount: () => currentAccount(ctx),
        rackHeaders: successHeaders(ctx.throttle, ctx.nowMs),
        nowMs: ctx.nowMs,
      },
      method,
    );
    if (targetReply) return targetReply;
    if (method !== "GET") return routeWrite(ctx, method);
    const federation = activityPub.route(ctx.req, path, query);
    if (federation) return federation;

    if (path === "/oauth/authorize") return oauth.authorizePage(ctx.params);
    if (path === "/oauth/authorize/native") return oauth.nativePage(ctx.params);
    if (path === "/.well-known/oauth-authorization-server" && store.atLeast(4, 3)) {
      return oauth.metadata(baseUrl(ctx));
    }

    if (path === "/api/v1/apps/verify_credentials") {
      // 4.3 accepts any valid token; before, `doorkeeper_authorize! :read`.
      const denied = store.atLeast(4, 3)
        ? doorkeeperAuthorize(ctx, [])
        : doorkeeperAuthorize(ctx, ["read"]);
      if (denied) return denied;
      const app = appOfToken(store, ctx.token!);
      return app ? apiJson(200, serializeApp(store, app, false)) : internalError(ctx.req);
    }

    const snapshot = snapshotRoute(store, path, {
      query,
      baseUrl: baseUrl(ctx),
      user: (scopes) =>
        doorkeeperAuthorize(ctx, scopes) ?? requireUser(ctx) ?? currentAccount(ctx)!,
      internalError: () => internalError(ctx.req),
    });
    if (snapshot) return snapshot;

    if (path === "/api/v1/accounts/verify_credentials") {
      const scopes = store.atLeast(4, 3)
        ? ["profile", "read", "read:accounts"]
        : ["read", "read:accounts"];
      const denied = doorkeeperAuthorize(ctx, scopes) ?? requireUser(ctx);
      if (denied) return denied;
      return apiJson(200, serializeCredentialAccount(store, currentAccount(ctx)!));
    }

    if (path === "/api/v1/accounts/lookup") {
      const denied = authorizeIfGotToken(ctx, ["read", "read:accounts"]);
      if (denied) return denied;
      const acct = query.get("acct");
      const account = acct ? store.findByAcct(acct) : undefined;
      return account ? apiJson(200, serializeAccount(store, account)) : recordNotFound();
    }

    if (path === "/api/v1/accounts/relationships") {
      const denied = doorkeeperAuthorize(ctx, ["read", "read:follows"]) ?? requireUser(ctx);
      if (denied) return denied;
      const me = currentAccount(ctx)!;
      const raw = query.has("id[]")
        ? query.getAll("id[]")
        : query.has("id")
          ? [query.get("id")!]
          : [];
      const seen = new Set<string>();
      const out = [];
      for (const r of raw) {
        const account = store.findById(r);
        if (!account || seen.has(account.id)) continue;
        seen.add(account.id);
        out.push(serializeRelationship(store, me, account));
      }
      return apiJson(200, out);
    }

    const list = /^\/api\/v1\/accounts\/([^/.?]+)\/(following|followers)$/.exec(path);
    if (list) return accountList(ctx, list[1]!, list[2] as "following" | "followers");

    const show = /^\/api\/v1\/accounts\/([^/.?]+)$/.exec(path);
    if (show) {
      const denied = authorizeIfGotToken(ctx, ["read", "read:accounts"]);
      if (denied) return denied;
      const account = store.findById(show[1]!);
      return account ? apiJson(200, serializeAccount(store, account)) : recordNotFound();
    }

    if (path === "/api/v1/instance") return apiJson(200, instanceV1());
    if (path === "/api/v2/instance" && store.atLeast(4, 0)) return apiJson(200, instanceV2());

    if (path === "/.well-known/nodeinfo") {
      return {
        status: 200,
        body: JSON.stringify({
          links: [
            {
              rel: "http://nodeinfo.diaspora.software/ns/schema/2.0",
              href: `http://${ctx.host}/nodeinfo/2.0`,
            },
          ],
        }),
        contentType: JSON_TYPE,
        api: false,
      };
    }
    if (path === "/nodeinfo/2.0") {
      const users = [...store.accounts.values()].filter((a) => a.domain === null).length;
      return {
        status: 200,
        body: JSON.stringify({
          version: "2.0",
          software: { name: "mastodon", version },
          protocols: ["activitypub"],
          services: { outbound: [], inbound: [] },
          usage: {
            users: { total: users, activeMonth: users, activeHalfyear: users },
            localPosts: 0,
          },
          openRegistrations: false,
          metadata: { nodeName: "Mastodon", nodeDescription: "" },
        }),
        contentType: JSON_TYPE,
        api: false,
      };
    }
    return routingError(ctx.req);
  };

  // ---- request pipeline -----------------------------------------------------------------

  /** The reply to an injected status fault: Mastodon's 500 page, nginx's for other 5xx, else JSON. */
  const faultReply = (fault: StatusFault): Reply => {
    const body =
      fault.body ??
      (fault.status === 500
        ? MASTODON_500_HTML
        : fault.status >= 500
          ? nginxErrorPage(fault.status)
          : JSON.stringify({
              error: fault.status === 429 ? "Too many requests" : STATUS_CODES[fault.status],
            }));
    const contentType =
      fault.contentType ??
      (/^\s*[[{]/.test(body)
        ? JSON_TYPE
        : fault.status === 500
          ? "text/html; charset=utf-8"
          : "text/html");
    return { status: fault.status, body, contentType, headers: fault.headers ?? {}, api: false };
  };

  /** Rack::Attack, then the routes, then the headers every Rails response carries. */
  const answer = async (
    req: IncomingMessage,
    method: string,
    path: string,
    query: URLSearchParams,
    body: Buffer,
    token: TokenRow | null,
  ): Promise<Reply> => {
    // Rack::Attack runs before routing: unknown routes and wrong methods count too.
    const nowMs = clock();
    const outcome = rack.check(
      {
        api: path.startsWith("/api"),
        paging: isPagingRequest(query),
        userId: token?.accountId ?? null,
        tokenId: token ? String(token.id) : null,
        ip: throttleableIp(req),
        appRegistration: method === "POST" && path === "/api/v1/apps",
      },
      nowMs,
    );
    if (outcome?.matched) {
      const { "Content-Type": contentType = "application/json", ...headers } = throttledHeaders(
        outcome.matched,
        nowMs,
      );
      return {
        status: 429,
        body: JSON.stringify({ error: "Too many requests" }),
        contentType,
        headers,
        api: false,
      };
    }

    let reply: Reply;
    try {
      const params = await readParams(req, body, query);
      const host = req.headers.host ?? `127.0.0.1:${port}`;
      reply = await route(
        { req, path, query, params, token, host, throttle: outcome, nowMs },
        method,
      );
    } catch (err) {
      reply =
        err instanceof BadRequestError
          ? plainJson(400, { status: 400, error: "Bad Request" })
          : internalError(req);
    }
    const extra: Record<string, string> = {
      "Cache-Control": "private, no-store",
      "X-Request-Id": randomUUID(),
    };
    if (reply.api) Object.assign(extra, successHeaders(outcome, nowMs));
    return { ...reply, headers: { ...extra, ...reply.headers } };
  };

  const pipeline: RequestPipeline<RequestLogEntry, { token: TokenRow | null }> =
    new RequestPipeline(
      {
        // Journey normalizes repeated and trailing slashes.
        path: (pathname) => pathname.replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1"),
        beforeEach: settle,
        control,
        open({ req, rawUrl, query, started }) {
          const presented = tokenString(req, query);
          const token = presented ? (store.tokens.get(presented) ?? null) : null;
          const entry: RequestLogEntry = {
            method: req.method ?? "GET",
            path: rawUrl,
            status: 0,
            tokenId: token ? String(token.id) : null,
            time: started,
            durationMs: 0,
          };
          return { entry, state: { token } };
        },
        readsBody: (method) => method !== "GET",
        faultReply,
        answer: ({ req, method, path, query }, body, { token }) =>
          answer(req, method, path, query, body, token),
        crash: (req) => internalError(req),
      },
      FaultSchema,
    );
  server.on("request", pipeline.listener);

  return {
    url,
    port,
    domain,
    version,
    ...api,
    get requests(): readonly RequestLogEntry[] {
      return pipeline.requests;
    },
    close,
  };
}
