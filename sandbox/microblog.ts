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
 */

import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { escapeHtml, nginxErrorPage } from "./html.js";
import {
  FaultPathSchema,
  HangFaultSchema,
  JSON_TYPE,
  listenLocal,
  type Reply,
  RequestPipeline,
  StatusFaultSchema,
} from "./http-pipeline.js";

// ---- public types -----------------------------------------------------------------------

export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** A reply the stand-in sends instead of the normal answer. */
export interface ErrorReply {
  status: number;
  body: string;
  /** Default: application/json when the body looks like JSON, else text/plain. */
  contentType?: string;
}

export interface MicroblogSandboxOptions {
  /** 0 / omitted: any free port. */
  port?: number;
  /** Clock for log times, rate-limit windows and token expiry (ms since epoch). Default Date.now. */
  now?: () => number;
  /** Default 300 per 60 s per client IP. null: no limit. */
  rateLimit?: RateLimit | null;
  /** The Fediverse domain of the accounts (acct:user@DOMAIN, https://DOMAIN/activitypub/user). Default: the sandbox's host, with its http:// origin. */
  domain?: string;
  /** What an unknown user gets. Default 404 {"error":"User not found."}. */
  notFound?: ErrorReply;
  /** Verifications of one token before it is switched to an expiring token. Default 5. */
  expireAfterVerifies?: number;
}

export interface RemoteOptions {
  /** Whether micro.blog can resolve (and so follow) this Fediverse account. */
  exists: boolean;
  name?: string;
  /** The answer when it can't (default: the sandbox's not-found reply). */
  errorBody?: ErrorReply;
}

export type Fault = (
  | { status: number; body?: string; contentType?: string }
  /** Accept the request and never answer (until the client gives up or close()). */
  | { hang: true }
) & {
  /** Only requests whose path starts with this consume the fault. */
  path?: string;
};

export interface RequestLogEntry {
  method: string;
  /** Path and query as received. */
  path: string;
  /** 0 when no response was sent (hang, client gave up). */
  status: number;
  /** Arrival on the sandbox clock (ms since epoch). */
  time: number;
  durationMs: number;
  ip: string;
  /** The micro.blog user of a valid Bearer token, else null. */
  user: string | null;
  /** Refused by the rate limit: when its window ends (sandbox clock). */
  resetAt?: number;
}

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

// ---- validation (in-process API and /_sandbox endpoints) ---------------------------------

/** micro.blog usernames: letters, digits and underscores (unconfirmed beyond that). */
const Username = z.string().regex(/^[a-z0-9_]{1,30}$/i, "not a micro.blog username");
/** A Fediverse account as micro.blog names it: user@host, no leading @. */
const RemoteHandle = z
  .string()
  .regex(/^[a-z0-9_.-]+@[a-z0-9.-]+(:\d+)?$/i, "not user@host (no leading @)");
const ErrorReplySchema = z.object({
  status: z.number().int().min(200).max(599),
  body: z.string(),
  contentType: z.string().optional(),
});
const RateLimitSchema = z.object({
  limit: z.number().int().min(0),
  windowMs: z.number().int().positive(),
});
const FaultSchema = z.union([StatusFaultSchema, HangFaultSchema]).and(FaultPathSchema);
const RemoteOptionsSchema = z.object({
  exists: z.boolean(),
  name: z.string().optional(),
  errorBody: ErrorReplySchema.optional(),
});
const OptionsSchema = z.object({
  port: z.number().int().min(0).max(65535).optional(),
  rateLimit: RateLimitSchema.nullable().optional(),
  domain: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d+)?$/i)
    .optional(),
  notFound: ErrorReplySchema.optional(),
  expireAfterVerifies: z.number().int().min(1).optional(),
});
const CONTROL = {
  user: z.object({ username: Username, name: z.string().optional() }),
  token: z.object({ username: Username }),
  remote: RemoteOptionsSchema.extend({ handle: RemoteHandle }),
  follow: z.object({ username: Username, handle: z.string() }),
  alias: z.object({ username: Username, actorUri: z.url() }),
};

const DEFAULT_RATE_LIMIT: RateLimit = { limit: 300, windowMs: 60_000 };
const DEFAULT_NOT_FOUND: ErrorReply = {
  status: 404,
  body: JSON.stringify({ error: "User not found." }),
  contentType: "application/json",
};
const TOKEN_INVALID = { error: "App token was not valid." };
const EXPIRING_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000;
const AS_TYPE = "application/activity+json; charset=utf-8";
const HTML_TYPE = "text/html; charset=utf-8";
const AS_CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"];

// ---- model ---------------------------------------------------------------------------------

interface User {
  username: string;
  name: string;
  /** lower-cased handle → the handle as micro.blog spells it */
  following: Map<string, string>;
  aliases: string[];
}

interface TokenRow {
  user: User;
  verifies: number;
  expiresAt: number | null;
}

interface Remote {
  handle: string;
  name: string;
  exists: boolean;
  errorBody?: ErrorReply;
}

type Account = { kind: "user"; user: User } | { kind: "remote"; remote: Remote };

const json = (status: number, body: unknown, contentType = JSON_TYPE): Reply => ({
  status,
  body: JSON.stringify(body),
  contentType,
});

function errorReply(e: ErrorReply): Reply {
  return {
    status: e.status,
    body: e.body,
    contentType: e.contentType ?? (/^\s*[[{]/.test(e.body) ? JSON_TYPE : "text/plain"),
  };
}

/** A fixed window per client IP, aligned to multiples of windowMs. */
class FixedWindows {
  private readonly counts = new Map<string, { start: number; count: number }>();
  constructor(private config: RateLimit | null) {}

  configure(config: RateLimit | null): void {
    this.config = config;
    this.counts.clear();
  }

  /** null: allowed; else the end of the window that refused the request. */
  check(ip: string, now: number): number | null {
    if (!this.config) return null;
    const start = now - (now % this.config.windowMs);
    let w = this.counts.get(ip);
    if (!w || w.start !== start) {
      w = { start, count: 0 };
      this.counts.set(ip, w);
    }
    w.count += 1;
    return w.count > this.config.limit ? start + this.config.windowMs : null;
  }
}

function tokenString(req: IncomingMessage): string | null {
  const m = /^(?:Bearer|Token)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m ? m[1]! : null;
}

/** Rails reads params from the query and a form or JSON body; the body wins. */
function readParams(
  req: IncomingMessage,
  body: Buffer,
  query: URLSearchParams,
): Map<string, string> {
  const params = new Map(query);
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  if (body.length === 0) return params;
  if (type.startsWith("application/x-www-form-urlencoded")) {
    for (const [k, v] of new URLSearchParams(body.toString("utf8"))) params.set(k, v);
  } else if (/^application\/(.+\+)?json/.test(type)) {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    if (parsed && typeof parsed === "object") {
      for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") params.set(k, v);
    }
  }
  return params;
}

function wantsActivityJson(req: IncomingMessage): boolean {
  return /application\/(activity\+json|ld\+json)/i.test(req.headers.accept ?? "");
}

// ---- the sandbox ---------------------------------------------------------------------------

export async function startMicroblogSandbox(
  opts: MicroblogSandboxOptions = {},
): Promise<MicroblogSandbox> {
  const { now: clock = Date.now, ...rest } = opts;
  const options = OptionsSchema.parse(rest);
  const expireAfter = options.expireAfterVerifies ?? 5;
  const notFoundDefault = options.notFound ?? DEFAULT_NOT_FOUND;

  const { server, port, url, close } = await listenLocal(options.port ?? 0);
  const domain = options.domain ?? `127.0.0.1:${port}`;
  /** Where the Fediverse side lives: https://DOMAIN, or the sandbox itself by default. */
  const base = options.domain ? `https://${domain}` : url;

  const users = new Map<string, User>();
  const tokens = new Map<string, TokenRow>();
  const remotes = new Map<string, Remote>();
  const limiter = new FixedWindows(
    options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit,
  );
  let publicKeyPem: string | undefined;

  const userOf = (username: string): User => {
    const u = users.get(username.toLowerCase());
    if (!u) throw new Error(`no micro.blog user ${username}`);
    return u;
  };

  /** What micro.blog knows by this name; a leading @ finds nothing (see the header). */
  const lookup = (handle: string): Account | null => {
    const key = handle.toLowerCase();
    if (key.includes("@")) {
      const remote = remotes.get(key);
      return remote?.exists ? { kind: "remote", remote } : null;
    }
    const user = users.get(key);
    return user ? { kind: "user", user } : null;
  };

  const notFound = (handle: string): Reply =>
    errorReply(remotes.get(handle.toLowerCase())?.errorBody ?? notFoundDefault);

  const handleOf = (a: Account): string => (a.kind === "user" ? a.user.username : a.remote.handle);

  const profile = (a: Account, viewer: User | null) => {
    const handle = handleOf(a);
    const [user = handle, host = ""] = handle.split("@");
    const isYou = a.kind === "user" && a.user === viewer;
    return {
      name: a.kind === "user" ? a.user.name : a.remote.name,
      url:
        a.kind === "user"
          ? `https://${handle.toLowerCase()}.micro.blog/`
          : `https://${host}/@${user}`,
      avatar:
        a.kind === "user" ? `${base}/${handle}/avatar.jpg` : `https://${host}/avatars/${user}.png`,
      username: handle,
      is_following: viewer?.following.has(handle.toLowerCase()) ?? false,
      is_you: isYou,
    };
  };

  const issue = (user: User): string => {
    const token = randomBytes(15).toString("hex").toUpperCase();
    tokens.set(token, { user, verifies: 0, expiresAt: null });
    return token;
  };

  /** A token that authenticates now: known and not expired. */
  const validToken = (token: string | null): TokenRow | null => {
    const row = token ? tokens.get(token) : undefined;
    if (!row || (row.expiresAt !== null && row.expiresAt <= clock())) return null;
    return row;
  };

  const api = {
    addUser(username: string, o: { name?: string } = {}): string {
      const u = CONTROL.user.parse({ username, ...o });
      const key = u.username.toLowerCase();
      if (users.has(key)) throw new Error(`user ${username} exists`);
      const user: User = {
        username: u.username,
        name: u.name ?? u.username,
        following: new Map(),
        aliases: [],
      };
      users.set(key, user);
      return issue(user);
    },
    issueAppToken(username: string): string {
      return issue(userOf(Username.parse(username)));
    },
    verifyCount(token: string): number {
      return tokens.get(token)?.verifies ?? 0;
    },
    addRemote(handle: string, o: RemoteOptions): void {
      const h = RemoteHandle.parse(handle);
      const r = RemoteOptionsSchema.parse(o);
      remotes.set(h.toLowerCase(), {
        handle: h,
        name: r.name ?? h.split("@")[0]!,
        exists: r.exists,
        ...(r.errorBody ? { errorBody: r.errorBody } : {}),
      });
    },
    follow(username: string, handle: string): void {
      const user = userOf(username);
      const target = lookup(handle);
      if (!target) throw new Error(`micro.blog can't find ${handle}`);
      const h = handleOf(target);
      user.following.set(h.toLowerCase(), h);
    },
    followingOf(username: string): string[] {
      return [...userOf(username).following.values()];
    },
    addAlias(username: string, actorUri: string): void {
      const user = userOf(username);
      const uri = z.url().parse(actorUri);
      if (!user.aliases.includes(uri)) user.aliases.push(uri);
    },
    removeAlias(username: string, actorUri: string): boolean {
      const user = userOf(username);
      const i = user.aliases.indexOf(actorUri);
      if (i < 0) return false;
      user.aliases.splice(i, 1);
      return true;
    },
    setRateLimit(limit: RateLimit | null): void {
      limiter.configure(RateLimitSchema.nullable().parse(limit));
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
  };

  // ---- /_sandbox control endpoints -------------------------------------------------------

  const control = {
    get(path: string, query: URLSearchParams): Reply | undefined {
      switch (path) {
        case "/_sandbox":
          return json(200, { url, domain, users: users.size });
        case "/_sandbox/verify-count":
          return json(200, { count: api.verifyCount(query.get("token") ?? "") });
        case "/_sandbox/following":
          return json(200, api.followingOf(query.get("username") ?? ""));
        default:
          return undefined;
      }
    },
    post(path: string, input: unknown): Reply | undefined {
      switch (path) {
        case "/_sandbox/users": {
          const { username, ...o } = CONTROL.user.parse(input);
          return json(201, { username, token: api.addUser(username, o) });
        }
        case "/_sandbox/tokens":
          return json(201, { token: api.issueAppToken(CONTROL.token.parse(input).username) });
        case "/_sandbox/remotes": {
          const { handle, ...o } = CONTROL.remote.parse(input);
          api.addRemote(handle, o);
          return json(201, {});
        }
        case "/_sandbox/follows": {
          const { username, handle } = CONTROL.follow.parse(input);
          api.follow(username, handle);
          return json(201, {});
        }
        case "/_sandbox/aliases": {
          const { username, actorUri } = CONTROL.alias.parse(input);
          api.addAlias(username, actorUri);
          return json(201, {});
        }
        case "/_sandbox/remove-alias": {
          const { username, actorUri } = CONTROL.alias.parse(input);
          return json(200, { removed: api.removeAlias(username, actorUri) });
        }
        case "/_sandbox/rate-limit":
          api.setRateLimit(RateLimitSchema.nullable().parse(input));
          return json(200, {});
        default:
          return undefined;
      }
    },
  };

  // ---- micro.blog ----------------------------------------------------------------------

  const verify = (params: Map<string, string>): Reply => {
    const row = validToken(params.get("token") ?? null);
    if (!row) return json(200, TOKEN_INVALID);
    row.verifies += 1;
    // "If … a client app is calling /account/verify regularly, Micro.blog will automatically
    // switch the token to be an expiring token."
    if (row.verifies > expireAfter && row.expiresAt === null) {
      row.expiresAt = clock() + EXPIRING_TOKEN_LIFETIME_MS;
    }
    const { user } = row;
    return json(200, {
      token: params.get("token"),
      name: user.name,
      username: user.username,
      avatar: `${base}/${user.username}/avatar.jpg`,
      default_site: `${user.username.toLowerCase()}.micro.blog`,
      expires_at: row.expiresAt === null ? null : new Date(row.expiresAt).toISOString(),
    });
  };

  const feed = (a: Account, viewer: User | null): Reply => {
    const p = profile(a, viewer);
    return json(200, {
      version: "https://jsonfeed.org/version/1",
      title: p.name,
      home_page_url: p.url,
      feed_url: `${base}/posts/${p.username}`,
      author: { name: p.name, url: p.url, avatar: p.avatar },
      _microblog: {
        username: p.username,
        bio: "",
        is_following: p.is_following,
        is_you: p.is_you,
        ...(p.is_you && a.kind === "user" ? { following_count: a.user.following.size } : {}),
        discover_count: 0,
      },
      items: [],
    });
  };

  const webfinger = (query: URLSearchParams): Reply => {
    const resource = query.get("resource");
    if (!resource) return json(400, { error: "Missing resource parameter." });
    const m = /^acct:([^@]+)@(.+)$/i.exec(resource);
    const byActor = resource.startsWith(`${base}/activitypub/`)
      ? resource.slice(`${base}/activitypub/`.length)
      : null;
    const name = m && m[2]!.toLowerCase() === domain.toLowerCase() ? m[1]! : byActor;
    const user = name ? users.get(name.toLowerCase()) : undefined;
    if (!user) return json(404, { error: "Not found." });
    const actor = `${base}/activitypub/${user.username}`;
    return json(
      200,
      {
        subject: `acct:${user.username}@${domain}`,
        links: [
          { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: actor },
          { rel: "self", type: "application/activity+json", href: actor },
          {
            rel: "http://ostatus.org/schema/1.0/subscribe",
            template: `${base}/mastodon/follow?url={uri}`,
          },
        ],
      },
      "application/jrd+json; charset=utf-8",
    );
  };

  const actor = (req: IncomingMessage, user: User): Reply => {
    const id = `${base}/activitypub/${user.username}`;
    const blog = `https://${user.username.toLowerCase()}.micro.blog/`;
    if (!wantsActivityJson(req)) {
      return {
        status: 200,
        body: `<!DOCTYPE html>\n<html><head><title>${escapeHtml(user.name)}</title></head><body><h1>${escapeHtml(user.name)}</h1><p><a href="${blog}">${blog}</a></p></body></html>\n`,
        contentType: HTML_TYPE,
      };
    }
    publicKeyPem ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
      type: "spki",
      format: "pem",
    }) as string;
    const avatar = {
      type: "Image",
      mediaType: "image/jpeg",
      url: `${base}/${user.username}/avatar.jpg`,
    };
    return json(
      200,
      {
        "@context": AS_CONTEXT,
        id,
        url: id,
        type: "Person",
        preferredUsername: user.username,
        name: user.name,
        summary: "",
        inbox: `${id}/inbox`,
        outbox: `${id}/outbox`,
        followers: `${id}/followers`,
        following: `${id}/following`,
        endpoints: { sharedInbox: `${base}/activitypub/shared/inbox` },
        publicKey: { id: `${id}#key`, owner: id, publicKeyPem },
        icon: avatar,
        image: avatar,
        ...(user.aliases.length > 0 ? { alsoKnownAs: [...user.aliases] } : {}),
        attachment: [
          {
            type: "PropertyValue",
            name: "Blog",
            value: `<a href="${blog}">${blog.replace(/^https:\/\/|\/$/g, "")}</a>`,
          },
        ],
      },
      AS_TYPE,
    );
  };

  const notFoundPage = (): Reply => ({
    status: 404,
    body: nginxErrorPage(404),
    contentType: "text/html",
  });

  const route = (
    req: IncomingMessage,
    method: string,
    path: string,
    query: URLSearchParams,
    params: Map<string, string>,
    token: TokenRow | null,
  ): Reply => {
    if (method === "POST" && path === "/account/verify") return verify(params);

    if (method === "GET") {
      if (path === "/.well-known/webfinger") return webfinger(query);
      if (path === "/.well-known/nodeinfo") {
        return json(200, {
          links: [
            {
              rel: "http://nodeinfo.diaspora.software/ns/schema/2.0",
              href: `${base}/nodeinfo/2.0`,
            },
          ],
        });
      }
      if (path === "/nodeinfo/2.0") {
        return json(200, {
          version: "2.0",
          software: { name: "micro.blog", version: "1.0" },
          protocols: ["activitypub"],
          services: { inbound: [], outbound: [] },
          openRegistrations: true,
          usage: { users: { total: users.size } },
          metadata: {},
        });
      }
      const ap = /^\/activitypub\/([^/]+)$/.exec(path);
      if (ap) {
        const user = users.get(ap[1]!.toLowerCase());
        return user ? actor(req, user) : notFoundPage();
      }
      const posts = /^\/posts\/([^/]+)$/.exec(path);
      if (posts) {
        // Public, but a token that is presented must be valid.
        if (req.headers.authorization !== undefined && !token)
          return json(401, { error: "Not authorized." });
        const a = lookup(posts[1]!);
        return a ? feed(a, token?.user ?? null) : notFound(posts[1]!);
      }
    }

    const isApi =
      (method === "POST" && (path === "/users/follow" || path === "/users/unfollow")) ||
      (method === "GET" &&
        (path === "/users/is_following" || path.startsWith("/users/following/")));
    if (!isApi) return notFoundPage();
    if (!token) return json(401, { error: "Not authorized." });
    const me = token.user;

    const following = /^\/users\/following\/([^/]+)$/.exec(path);
    if (following) {
      const a = lookup(following[1]!);
      if (a?.kind !== "user") return notFound(following[1]!);
      const list = [...a.user.following.values()].map((h) => {
        const target = lookup(h);
        return target ? profile(target, me) : null;
      });
      return json(
        200,
        list.filter((p) => p !== null),
      );
    }

    const username = params.get("username");
    if (!username) return json(400, { error: "Missing username parameter." });
    const target = lookup(username);
    if (!target) return notFound(username);
    const key = handleOf(target).toLowerCase();
    const isYou = target.kind === "user" && target.user === me;
    switch (path) {
      case "/users/is_following":
        return json(200, { is_following: me.following.has(key), is_you: isYou });
      case "/users/follow":
        if (!isYou) me.following.set(key, handleOf(target));
        return json(200, {});
      default:
        me.following.delete(key);
        return json(200, {});
    }
  };

  // ---- HTTP ----------------------------------------------------------------------------

  interface Arrival {
    token: TokenRow | null;
    /** The end of the rate-limit window that refused the request, or null. */
    refusedUntil: number | null;
  }

  const pipeline: RequestPipeline<RequestLogEntry, Arrival> = new RequestPipeline(
    {
      path(pathname) {
        const path = pathname.replace(/(.)\/$/, "$1");
        try {
          return decodeURIComponent(path);
        } catch {
          return path; // a malformed escape matches no route
        }
      },
      control,
      open({ req, rawUrl }) {
        const now = clock();
        const token = validToken(tokenString(req));
        const ip = (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
        const entry: RequestLogEntry = {
          method: req.method ?? "GET",
          path: rawUrl,
          status: 0,
          time: now,
          durationMs: 0,
          ip,
          user: token?.user.username ?? null,
        };
        // nginx counts at arrival, before the application sees the request.
        return { entry, state: { token, refusedUntil: limiter.check(ip, now) } };
      },
      readsBody: () => true,
      gate({ refusedUntil }, entry) {
        if (refusedUntil === null) return null;
        entry.resetAt = refusedUntil;
        return { status: 403, body: nginxErrorPage(403), contentType: "text/html" };
      },
      faultReply: ({ status, body, contentType }) =>
        body === undefined
          ? { status, body: nginxErrorPage(status), contentType: contentType ?? "text/html" }
          : errorReply({ status, body, ...(contentType ? { contentType } : {}) }),
      async answer({ req, method, path, query }, body, { token }) {
        try {
          return route(req, method, path, query, readParams(req, body, query), token);
        } catch {
          return json(400, { error: "Error while processing the request." });
        }
      },
      crash: () => ({ status: 500, body: nginxErrorPage(500), contentType: "text/html" }),
    },
    FaultSchema,
  );
  server.on("request", pipeline.listener);

  return {
    url,
    port,
    domain,
    ...api,
    get requests(): readonly RequestLogEntry[] {
      return pipeline.requests;
    },
    close,
  };
}
