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
 * - Bearer API: `Authorization: Bearer T` (or `Token T`, which the macOS app sends). Missing,
 *   unknown or expired → 401 `{"error":"Not authorized."}` (unconfirmed body).
 * - `username` is read from the form body or the query string (the official apps use both);
 *   the body wins, as Rails merges params. A leading `@` is NOT stripped: `@alice@host` is an
 *   unknown user (the server's tolerance is unconfirmed; official apps never send it).
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
 *   POST /_sandbox/users          {username, name?}           → {username, token}
 *   POST /_sandbox/tokens         {username}                  → {token}
 *   GET  /_sandbox/verify-count?token=…                        → {count}
 *   POST /_sandbox/remotes        {handle, exists, name?, errorBody?: {status, body, contentType?}}
 *   POST /_sandbox/follows        {username, handle}          (seeds a follow)
 *   GET  /_sandbox/following?username=…                       → string[]
 *   POST /_sandbox/aliases        {username, actorUri}
 *   POST /_sandbox/remove-alias   {username, actorUri}        → {removed}
 *   POST /_sandbox/rate-limit     {limit, windowMs} | null
 *   POST /_sandbox/latency        {ms}
 *   POST /_sandbox/fail-next      {n, status, body?, contentType?, path?} | {n, hang: true, path?}
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
} from "./microblog-types.js";

export type {
  ErrorReply,
  Fault,
  MicroblogSandboxOptions,
  RateLimit,
  RemoteOptions,
  RequestLogEntry,
} from "./microblog-types.js";

export interface MicroblogSandbox {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly domain: string;
  /** Adds a micro.blog user and returns its first app token. */
  addUser(username: string, opts?: { name?: string }): string;
  issueAppToken(username: string): string;
  /** How many times /account/verify accepted this token. */
  verifyCount(token: string): number;
  addRemote(handle: string, opts: RemoteOptions): void;
  /** Seeds a follow, as if made through the API. */
  follow(username: string, handle: string): void;
  followingOf(username: string): string[];
  addAlias(username: string, actorUri: string): void;
  removeAlias(username: string, actorUri: string): boolean;
  /** Resets the counters. null: no limit. */
  setRateLimit(limit: RateLimit | null): void;
  setLatency(ms: number): void;
  failNext(n: number, fault: Fault): void;
  readonly requests: readonly RequestLogEntry[];
  resetLog(): void;
  close(): Promise<void>;
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
  });
  const pipeline = new RequestPipeline<RequestLogEntry>(FaultSchema);
  pipeline.serve(server, microblogStages(state, microblogControl(state)));

  const seeding: Omit<MicroblogSandbox, keyof PipelineControls<RequestLogEntry>> = {
    url,
    port,
    domain: state.domain,
    addUser: (username, o) => state.addUser(username, o),
    issueAppToken: (username) => state.issueAppToken(username),
    verifyCount: (token) => state.verifyCount(token),
    addRemote: (handle, o) => state.addRemote(handle, o),
    follow: (username, handle) => state.follow(username, handle),
    followingOf: (username) => state.followingOf(username),
    addAlias: (username, actorUri) => state.addAlias(username, actorUri),
    removeAlias: (username, actorUri) => state.removeAlias(username, actorUri),
    setRateLimit: (limit) => state.setRateLimit(limit),
  };
  return Object.assign(pipeline.controls(close), seeding);
}
