/**
 * What the Mastodon stand-in's modules share, made once per sandbox: the store and the
 * services around it. Seeding, the /_sandbox endpoints and the routes take it as their first
 * argument instead of closing over the sandbox's locals.
 */

import { ActivityPubRoutes } from "./mastodon-activitypub.js";
import { Federation } from "./mastodon-federation.js";
import { Migrations } from "./mastodon-move.js";
import { Notifications } from "./mastodon-notifications.js";
import { OAuthProvider } from "./mastodon-oauth.js";
import { Posting } from "./mastodon-posting.js";
import type { OriginOf, ResolveActor } from "./mastodon-resolve.js";
import { parseVersion } from "./mastodon-rows.js";
import { SignatureVerifier } from "./mastodon-signatures.js";
import { Store } from "./mastodon-store.js";
import { type FollowLimitConfig, FollowTarget } from "./mastodon-target.js";
import { DEFAULT_RATE_LIMIT, RackAttack, type RateLimitConfig } from "./mastodon-throttle.js";

export interface MastodonContext {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** LOCAL_DOMAIN */
  readonly domain: string;
  readonly version: string;
  /** configuration.statuses.max_characters */
  readonly maxCharacters: number;
  /** The sandbox clock (ms since epoch). */
  readonly clock: () => number;
  readonly store: Store;
  readonly oauth: OAuthProvider;
  readonly fed: Federation;
  readonly moves: Migrations;
  readonly target: FollowTarget;
  readonly activityPub: ActivityPubRoutes;
  readonly rack: RackAttack;
  /** Vacuum::ApplicationsVacuum runs (4.2.0–4.2.8 by default). */
  readonly applicationsVacuum: boolean;
  /** DISALLOW_UNAUTHENTICATED_API_ACCESS, or limited federation mode: the API wants a user. */
  readonly closedApi: false | "unauthenticated" | "limited-federation";
  /** Mention notifications and the 4.3 policy (mastodon-notifications.ts). */
  readonly notifications: Notifications;
  /** Posting statuses (mastodon-posting.ts). */
  readonly posting: Posting;
  /** Numbers generated accounts, statuses and domains, so every seeding call makes new ones. */
  seedSeq: number;
}

export interface ContextOptions {
  url: string;
  port: number;
  /** LOCAL_DOMAIN when given; default 127.0.0.1:PORT with http:// URLs. */
  domain: string | undefined;
  version: string;
  maxCharacters: number;
  clock: () => number;
  rateLimit: RateLimitConfig | null | undefined;
  resolveActor: ResolveActor | undefined;
  originOf: OriginOf | undefined;
  followLimit: FollowLimitConfig | null | undefined;
  autoAcceptFollowsMs: number | null | undefined;
  applicationsVacuum: boolean | undefined;
  authorizedFetch: boolean | undefined;
  closedApi: false | "unauthenticated" | "limited-federation" | undefined;
}

export function createMastodonContext(o: ContextOptions): MastodonContext {
  const domain = o.domain ?? `127.0.0.1:${o.port}`;
  const store = new Store(
    domain,
    o.domain ? `https://${domain}` : o.url,
    parseVersion(o.version),
    o.clock,
  );
  const fed = new Federation(store, {
    ...(o.resolveActor ? { resolveActor: o.resolveActor } : {}),
    ...(o.originOf ? { originOf: o.originOf } : {}),
  });
  const target = new FollowTarget(store, fed, o.clock);
  if (o.followLimit !== undefined) target.setFollowLimit(o.followLimit);
  if (o.autoAcceptFollowsMs !== undefined) target.setAutoAccept(o.autoAcceptFollowsMs);
  const notifications = new Notifications(store, o.clock);
  const activityPub = new ActivityPubRoutes(store);
  if (o.authorizedFetch) {
    activityPub.secure = new SignatureVerifier((host) => fed.originFor(host), o.clock);
  }
  return {
    url: o.url,
    port: o.port,
    domain,
    version: o.version,
    maxCharacters: o.maxCharacters,
    clock: o.clock,
    store,
    oauth: new OAuthProvider(store),
    fed,
    moves: new Migrations(store, fed, o.clock),
    target,
    activityPub,
    rack: new RackAttack(o.rateLimit === undefined ? DEFAULT_RATE_LIMIT : o.rateLimit),
    // Scheduler::VacuumScheduler ran Vacuum::ApplicationsVacuum from 4.2.0 until 4.2.9 removed
    // it ("remove broken OAuth Application vacuuming", mastodon/mastodon#30316).
    applicationsVacuum: o.applicationsVacuum ?? (store.atLeast(4, 2) && !store.atLeast(4, 2, 9)),
    closedApi: o.closedApi ?? false,
    notifications,
    posting: new Posting(store, notifications, o.clock, o.maxCharacters),
    seedSeq: 0,
  };
}

/**
 * Lets what is due by the sandbox clock happen: auto-accepts, followers leaving, and (where
 * it runs) the applications vacuum — daily in Mastodon, at once here: an app is gone as soon
 * as it qualifies.
 */
export function settle(ctx: MastodonContext): void {
  const now = ctx.clock();
  ctx.target.settle(now);
  ctx.moves.settle(now);
  if (ctx.applicationsVacuum) ctx.store.vacuumApplications(now);
}
