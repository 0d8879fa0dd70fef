/**
 * The public types of the Mastodon stand-in: its options, what seeding takes and returns,
 * the request log, and the handle startMastodonSandbox gives back (re-exported by mastodon.ts).
 */

import type { PipelineControls, Fault as PipelineFault } from "./http-pipeline.js";
import type { DmControls } from "./mastodon-dm-control.js";
import type { MastodonAccount } from "./mastodon-entities.js";
import type { ResolvableOptions } from "./mastodon-federation.js";
import type { MigrationRecord, PerformMoveOptions } from "./mastodon-move.js";
import type { AuthorizeResult } from "./mastodon-oauth.js";
import type { OriginOf, ResolveActor } from "./mastodon-resolve.js";
import type { AccountSnapshot } from "./mastodon-snapshot.js";
import type { AcceptFollowsOptions, FollowLimitConfig } from "./mastodon-target.js";
import type { RateLimitConfig } from "./mastodon-throttle.js";

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
  /**
   * Vacuum::ApplicationsVacuum: OAuth apps with no owner, no live token or authorization code
   * and registered over a day ago (sandbox clock) are deleted, so their client_id then answers
   * invalid_client. Mastodon 4.2.0–4.2.8 ran it daily; 4.2.9 removed it (mastodon#30316).
   * Default: on for those versions, off for the rest.
   */
  applicationsVacuum?: boolean;
  /**
   * Secure mode (AUTHORIZED_FETCH=true; GoToSocial always): actors and their followers/following
   * collections are served as JSON only to requests with a valid HTTP Signature, else 401
   * (mastodon-signatures.ts). WebFinger, HTML and the REST API still answer. Default off, as
   * Mastodon's default.
   */
  authorizedFetch?: boolean;
  /**
   * "unauthenticated" (DISALLOW_UNAUTHENTICATED_API_ACCESS=true): every API call without a user's
   * token gets 401 {"error":"This API requires an authenticated user"}; the instance documents
   * and app registration stay open. "limited-federation" (LIMITED_FEDERATION_MODE=true): the same,
   * and a moved account's token gets 403 {"error":"Your login is currently disabled"} on every
   * call. Default false.
   */
  closedApi?: false | "unauthenticated" | "limited-federation";
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

/** The handle; people writing to a bot and the streaming controls are mastodon-dm-control.ts. */
/** The handle: its controls, and latency, faults, the request log and close as every stand-in has. */
export interface MastodonSandbox extends DmControls, PipelineControls<RequestLogEntry> {
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
}
