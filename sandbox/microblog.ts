/**
 * A strict stand-in for micro.blog, on 127.0.0.1, for the parts fedimove uses: the JSON API
 * (account/verify, follow, unfollow, is_following, following, a user's JSON Feed) and the
 * Fediverse side of a micro.blog account (WebFinger, the ActivityPub actor, NodeInfo). Facts
 * from /work/shared/reference/microblog.md and apis.md §B; where they are unconfirmed, the
 * stand-in picks the answer that is hardest on a client:
 *
 * - `/account/verify` answers an invalid or expired token with **200** and
 *   `{"error":"App token was not valid."}` (the body is confirmed; the status is not — third-party
 *   clients' tests assume 200), so a client must read the body, not only the status. After
 *   `expireAfterVerifies` (5) verifications of one token, the next one turns it into an expiring
 *   token (confirmed caveat; the lifetime, 30 days, is a guess) and `expires_at` becomes an ISO
 *   8601 time; before that it is `null`, as a third-party fixture shows.
 * - `default_site` is the blog's own domain when it has one (`manton.org`), else
 *   `username.micro.blog` (the fields are confirmed; the values are the legacy help's shape).
 * - Bearer API: `Authorization: Bearer T` (or `Token T`, which the macOS app sends). Missing,
 *   unknown, expired or deleted → 401 `{"error":"Not authorized."}` (unconfirmed status and
 *   body); with `badTokenStatus: 403` the same answer is a 403, as easy to take for the rate
 *   limit as micro.blog's help makes it ("an HTTP error such as 403 Forbidden").
 * - `username` is read from the form body or the query string (the official apps use both);
 *   the body wins, as Rails merges params. A leading `@` is NOT stripped: `@alice@host` is an
 *   unknown user (the server's tolerance is unconfirmed; official apps never send it).
 * - micro.blog's own users are known to the JSON API by their bare username only (`bob`: the
 *   following list names them so, and clients tell them from Fediverse accounts by the missing
 *   `@` — lillihub's `!n.username.includes('@')`). Their Fediverse usernames (`bob@micro.blog`,
 *   `hello@bob.example`) are not usernames of the API: a follow by one is an unknown user
 *   (unconfirmed; the answer hardest on a client).
 * - A Fediverse account micro.blog knows but won't follow (`addRemote(h, {refuseFollow})`):
 *   follow answers with the given reply, e.g. a 403 (unconfirmed; any refusal's shape is).
 * - Fediverse usernames: `@username@DOMAIN` by default; one can be chosen, on micro.blog's domain
 *   or on the blog's own (`@name@example.com`; manton.org 2022-10-10 "Big improvements to
 *   ActivityPub"). The actor lives on the username's host under the micro.blog username
 *   (https://manton.org/activitypub/manton), its inbox and outbox on micro.blog's own origin
 *   (https://micro.blog/activitypub/manton/inbox: gabek/fedidocs captures); that the path is
 *   the micro.blog username, not the chosen name, is inferred (it must be unique on micro.blog).
 *   WebFinger answers the current username only (changing it "deletes" the old profile), unless
 *   `formerHandlesAnswer`. Nothing in the JSON API names the Fediverse username (unconfirmed:
 *   none of the official apps reads one).
 * - Unknown native username or a Fediverse handle micro.blog can't resolve: 404
 *   `{"error":"User not found."}` by default (unconfirmed), for follow, unfollow, is_following,
 *   following/{u} and posts/{u}; per handle (`addRemote(h, {exists: false, errorBody})`) or for
 *   the whole sandbox (`notFound` option) it can be any status, content type and body — JSON,
 *   plain text, an HTML page, even a 200 with `{"error": …}`.
 * - Rate limit per client IP (socket address), fixed windows aligned to multiples of `windowMs`
 *   on the sandbox clock, every request counted (refused ones too): over the limit → **403
 *   Forbidden** with nginx's HTML error page, no Retry-After and no X-RateLimit-* headers
 *   (confirmed: "an HTTP error such as 403"; the body is our guess at micro.blog's nginx).
 *   Default 300 per 60 s.
 * - WebFinger (JRD: profile-page and self links to the actor, the ostatus subscribe template, no
 *   aliases; unknown → 404 JSON), the actor (Person; inbox, outbox, followers, following and the
 *   shared inbox on the sandbox origin; `alsoKnownAs` only when aliases exist; never
 *   `manuallyApprovesFollowers`, `discoverable` or `movedTo`) for `Accept: application/activity+json`
 *   or `application/ld+json`, an HTML page for any other Accept. NodeInfo 2.0 at
 *   `/.well-known/nodeinfo` → `/nodeinfo/2.0`, software name "micro.blog" (unconfirmed).
 * - Unknown routes: 404 with nginx's HTML page.
 *
 * Seeding and faults, in-process or (for a sandbox in another process, microblog-server.ts) as
 * JSON endpoints that are never logged, delayed, failed or rate limited:
 *
 *   GET  /_sandbox                                             → {url, domain, users}
 *   POST /_sandbox/users          {username, name?, site?, fediverse?} → {username, token}
 *   POST /_sandbox/fediverse      {username, handle}          (sets the Fediverse username)
 *   POST /_sandbox/tokens         {username}                  → {token}
 *   POST /_sandbox/revoke-token   {token}                     → {revoked}
 *   GET  /_sandbox/verify-count?token=…                        → {count}
 *   POST /_sandbox/remotes        {handle, exists, name?, errorBody?, refuseFollow?}
 *                                 (errorBody, refuseFollow: {status, body, contentType?})
 *   POST /_sandbox/follows        {username, handle}          (seeds a follow)
 *   GET  /_sandbox/following?username=…                       → string[]
 *   POST /_sandbox/aliases        {username, actorUri}
 *   POST /_sandbox/remove-alias   {username, actorUri}        → {removed}
 *   POST /_sandbox/rate-limit     {limit, windowMs} | null
 *   POST /_sandbox/latency        {ms}
 *   POST /_sandbox/fail-next      {n, status, body?, contentType?, path?} | {n, hang: true, path?}
 *   POST /_sandbox/chaos          {rate, seed, kinds?, hangMs?, slowMs?, paths?} | null
 *   GET  /_sandbox/chaos                                       → faults given, by kind | null
 *   GET  /_sandbox/follow-requests?username=…                  → {handle: follow requests}
 *   GET  /_sandbox/requests                                    → RequestLogEntry[]
 *   POST /_sandbox/reset-log
 *
 * Bad control input gets 400 {"error": …}.
 *
 * This module starts the server and builds the handle around the state (microblog-state.ts);
 * the JSON API is microblog-routes.ts, the Fediverse side microblog-fediverse.ts, the control
 * endpoints microblog-control.ts, its stages of the shared pipeline microblog-pipeline.ts.
 */

import { listenLocal, type PipelineControls, RequestPipeline } from "./http-pipeline.js";
import { microblogControl } from "./microblog-control.js";
import { microblogStages } from "./microblog-pipeline.js";
import { FaultSchema, MicroblogState, OptionsSchema } from "./microblog-state.js";
import type {
  Fault,
  MicroblogSandboxOptions,
  RateLimit,
  RemoteOptions,
  RequestLogEntry,
  UserOptions,
} from "./microblog-types.js";

export type {
  ErrorReply,
  Fault,
  MicroblogSandboxOptions,
  RateLimit,
  RemoteOptions,
  RequestLogEntry,
  UserOptions,
} from "./microblog-types.js";

/** The handle: its controls, and latency, faults, the request log and close as every stand-in has. */
export interface MicroblogSandbox extends Omit<PipelineControls<RequestLogEntry>, "failNext"> {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly domain: string;
  /** Adds a micro.blog user and returns its first app token. */
  addUser(username: string, opts?: UserOptions): string;
  /** Sets the Fediverse username: name@DOMAIN, or on the user's own site. */
  setFediverseUsername(username: string, handle: string): void;
  issueAppToken(username: string): string;
  /** The user deletes the token (Account → Edit Apps); false if there was none. */
  revokeAppToken(token: string): boolean;
  /** How many times /account/verify accepted this token. */
  verifyCount(token: string): number;
  addRemote(handle: string, opts: RemoteOptions): void;
  /** Seeds a follow, as if made through the API. */
  follow(username: string, handle: string): void;
  followingOf(username: string): string[];
  /**
   * How many follow requests micro.blog accepted for each account this user follows (lower-cased
   * handle): more than one is the same follow asked for twice.
   */
  followRequestsOf(username: string): Record<string, number>;
  addAlias(username: string, actorUri: string): void;
  removeAlias(username: string, actorUri: string): boolean;
  /** Resets the counters. null: no limit. */
  setRateLimit(limit: RateLimit | null): void;
  /** micro.blog's faults: a status, a hang or a late answer (no dropped socket). */
  failNext(n: number, fault: Fault): void;
}

// ---- the sandbox ---------------------------------------------------------------------------

/** Starts the stand-in on 127.0.0.1: the state, its /_sandbox endpoints and the pipeline. */
export async function startMicroblogSandbox(
  opts: MicroblogSandboxOptions = {},
): Promise<MicroblogSandbox> {
  const { now: clock = Date.now, ...rest } = opts;
  const options = OptionsSchema.parse(rest);
  const { server, port, url, close } = await listenLocal(options.port ?? 0);
  const state = new MicroblogState({
    url,
    port,
    domain: options.domain,
    clock,
    rateLimit: options.rateLimit,
    notFound: options.notFound,
    expireAfterVerifies: options.expireAfterVerifies,
    badTokenStatus: options.badTokenStatus,
    formerHandlesAnswer: options.formerHandlesAnswer,
  });
  const pipeline = new RequestPipeline<RequestLogEntry>(FaultSchema);
  pipeline.serve(server, microblogStages(state, microblogControl(state)));

  const seeding: Omit<MicroblogSandbox, keyof PipelineControls<RequestLogEntry>> = {
    url,
    port,
    domain: state.domain,
    addUser: (username, o) => state.addUser(username, o),
    setFediverseUsername: (username, handle) => state.setFediverseUsername(username, handle),
    issueAppToken: (username) => state.issueAppToken(username),
    revokeAppToken: (token) => state.revokeAppToken(token),
    verifyCount: (token) => state.verifyCount(token),
    addRemote: (handle, o) => state.addRemote(handle, o),
    follow: (username, handle) => state.follow(username, handle),
    followingOf: (username) => state.followingOf(username),
    followRequestsOf: (username) => state.followRequestsOf(username),
    addAlias: (username, actorUri) => state.addAlias(username, actorUri),
    removeAlias: (username, actorUri) => state.removeAlias(username, actorUri),
    setRateLimit: (limit) => state.setRateLimit(limit),
  };
  return Object.assign(pipeline.controls(close), seeding);
}
