/**
 * The micro.blog stand-in's data and the rules it keeps about it: users and their app tokens
 * (which turn into expiring tokens after enough verifications), the Fediverse accounts
 * micro.blog can or can't resolve, follows, aliases, and the nginx rate limit per client IP.
 * The methods a test seeds with validate their input here.
 */

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { z } from "zod";
import { nginxErrorPage } from "./html.js";
import {
  FaultPathSchema,
  HangFaultSchema,
  JSON_TYPE,
  QueuedFaultSchema,
  type Reply,
  StatusFaultSchema,
} from "./http-pipeline.js";
import type { ErrorReply, RateLimit, RemoteOptions, UserOptions } from "./microblog-types.js";

// ---- validation (in-process API and /_sandbox endpoints) ---------------------------------

/** micro.blog usernames: letters, digits and underscores (unconfirmed beyond that). */
export const Username = z.string().regex(/^[a-z0-9_]{1,30}$/i, "not a micro.blog username");
/** A Fediverse account as micro.blog names it: user@host, no leading @. */
export const RemoteHandle = z
  .string()
  .regex(/^[a-z0-9_.-]+@[a-z0-9.-]+(:\d+)?$/i, "not user@host (no leading @)");
export const ErrorReplySchema = z.object({
  status: z.number().int().min(200).max(599),
  body: z.string(),
  contentType: z.string().optional(),
});
export const RateLimitSchema = z.object({
  limit: z.number().int().min(0),
  windowMs: z.number().int().positive(),
});
export const FaultSchema = z
  .union([StatusFaultSchema, HangFaultSchema, QueuedFaultSchema])
  .and(FaultPathSchema);
export const RemoteOptionsSchema = z.object({
  exists: z.boolean(),
  name: z.string().optional(),
  errorBody: ErrorReplySchema.optional(),
  refuseFollow: ErrorReplySchema.optional(),
});
/** A blog's own domain (not *.micro.blog). */
export const SiteDomain = z
  .string()
  .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, "not a domain name")
  .transform((d) => d.toLowerCase());
/** A Fediverse username as micro.blog lets one be chosen: name@domain, no leading @. */
export const FediverseHandle = z
  .string()
  .regex(/^[a-z0-9_]{1,30}@[a-z0-9.-]+(:\d+)?$/i, "not name@domain (no leading @)")
  .transform((h) => h.toLowerCase());
export const OptionsSchema = z.object({
  port: z.number().int().min(0).max(65535).optional(),
  rateLimit: RateLimitSchema.nullable().optional(),
  domain: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d+)?$/i)
    .optional(),
  notFound: ErrorReplySchema.optional(),
  expireAfterVerifies: z.number().int().min(1).optional(),
  badTokenStatus: z.union([z.literal(401), z.literal(403)]).optional(),
  formerHandlesAnswer: z.boolean().optional(),
});
export const UserSchema = z.object({
  username: Username,
  name: z.string().optional(),
  site: SiteDomain.optional(),
  fediverse: FediverseHandle.optional(),
});
const DEFAULT_RATE_LIMIT: RateLimit = { limit: 300, windowMs: 60_000 };
const DEFAULT_NOT_FOUND: ErrorReply = {
  status: 404,
  body: JSON.stringify({ error: "User not found." }),
  contentType: "application/json",
};
const EXPIRING_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000;

// ---- model ---------------------------------------------------------------------------------

export interface User {
  username: string;
  name: string;
  /** The blog's own domain, or null for username.micro.blog. */
  site: string | null;
  /** The Fediverse username, lower case: name@DOMAIN (micro.blog's) or name@site. */
  fediverse: string;
  /** Fediverse usernames it had before, newest last. */
  former: string[];
  /** lower-cased handle → the handle as micro.blog spells it */
  following: Map<string, string>;
  /** lower-cased handle → follow requests accepted for it (the harness counts duplicates). */
  followRequests: Map<string, number>;
  aliases: string[];
}

export interface TokenRow {
  user: User;
  verifies: number;
  expiresAt: number | null;
}

interface Remote {
  handle: string;
  name: string;
  exists: boolean;
  errorBody?: ErrorReply;
  /** micro.blog refuses to follow this account, with this answer. */
  refuseFollow?: ErrorReply;
}

export type Account = { kind: "user"; user: User } | { kind: "remote"; remote: Remote };

// ---- replies -------------------------------------------------------------------------------

export const json = (status: number, body: unknown, contentType = JSON_TYPE): Reply => ({
  status,
  body: JSON.stringify(body),
  contentType,
});

/** nginx's 404: what micro.blog answers for routes it doesn't have. */
export const notFoundPage = (): Reply => ({
  status: 404,
  body: nginxErrorPage(404),
  contentType: "text/html",
});

/** The answer for an ErrorReply: application/json when the body looks like JSON, else text/plain. */
export function errorReply(e: ErrorReply): Reply {
  return {
    status: e.status,
    body: e.body,
    contentType: e.contentType ?? (/^\s*[[{]/.test(e.body) ? JSON_TYPE : "text/plain"),
  };
}

/** A fixed window per client IP, aligned to multiples of windowMs. */
export class FixedWindows {
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

export interface StateOptions {
  url: string;
  port: number;
  /** The Fediverse domain; default the sandbox's host, with its http:// origin. */
  domain: string | undefined;
  clock: () => number;
  rateLimit: RateLimit | null | undefined;
  notFound: ErrorReply | undefined;
  expireAfterVerifies: number | undefined;
  badTokenStatus: 401 | 403 | undefined;
  formerHandlesAnswer: boolean | undefined;
}

export class MicroblogState {
  readonly url: string;
  readonly domain: string;
  /** Where the Fediverse side lives: https://DOMAIN, or the sandbox itself by default. */
  readonly base: string;
  readonly clock: () => number;
  /** Verifications of one token before it is switched to an expiring token. */
  readonly expireAfter: number;
  readonly users = new Map<string, User>();
  readonly tokens = new Map<string, TokenRow>();
  readonly remotes = new Map<string, Remote>();
  readonly limiter: FixedWindows;
  /** The status of the Bearer API for a missing, unknown or expired token. */
  readonly badTokenStatus: 401 | 403;
  /** WebFinger still answers a user's former Fediverse usernames. */
  readonly formerHandlesAnswer: boolean;
  private readonly notFoundDefault: ErrorReply;
  private publicKeyPem: string | undefined;

  constructor(o: StateOptions) {
    this.url = o.url;
    this.domain = o.domain ?? `127.0.0.1:${o.port}`;
    this.base = o.domain ? `https://${this.domain}` : o.url;
    this.clock = o.clock;
    this.expireAfter = o.expireAfterVerifies ?? 5;
    this.notFoundDefault = o.notFound ?? DEFAULT_NOT_FOUND;
    this.limiter = new FixedWindows(o.rateLimit === undefined ? DEFAULT_RATE_LIMIT : o.rateLimit);
    this.badTokenStatus = o.badTokenStatus ?? 401;
    this.formerHandlesAnswer = o.formerHandlesAnswer ?? false;
  }

  /** The blog's home page: its own domain, or username.micro.blog. */
  blogOf(user: User): string {
    return `https://${user.site ?? `${user.username.toLowerCase()}.micro.blog`}/`;
  }

  /**
   * The user's actor: on the host of its Fediverse username (https://manton.org/activitypub/manton,
   * or micro.blog's own), under its micro.blog username.
   */
  actorOf(user: User): string {
    const host = user.fediverse.slice(user.fediverse.indexOf("@") + 1);
    const origin = host === this.domain.toLowerCase() ? this.base : `https://${host}`;
    return `${origin}/activitypub/${user.username}`;
  }

  /** The user WebFinger names by `acct` (name@host): its Fediverse username, or a former one. */
  userByHandle(acct: string): User | undefined {
    const key = acct.toLowerCase();
    for (const user of this.users.values()) {
      if (user.fediverse === key) return user;
      if (this.formerHandlesAnswer && user.former.includes(key)) return user;
    }
    return undefined;
  }

  userOf(username: string): User {
    const u = this.users.get(username.toLowerCase());
    if (!u) throw new Error(`no micro.blog user ${username}`);
    return u;
  }

  /** What micro.blog knows by this name; a leading @ finds nothing (see microblog.ts). */
  lookup(handle: string): Account | null {
    const key = handle.toLowerCase();
    if (key.includes("@")) {
      const remote = this.remotes.get(key);
      return remote?.exists ? { kind: "remote", remote } : null;
    }
    const user = this.users.get(key);
    return user ? { kind: "user", user } : null;
  }

  /** The answer for a name micro.blog can't find: the handle's own, else the sandbox's. */
  notFound(handle: string): Reply {
    return errorReply(this.remotes.get(handle.toLowerCase())?.errorBody ?? this.notFoundDefault);
  }

  handleOf(a: Account): string {
    return a.kind === "user" ? a.user.username : a.remote.handle;
  }

  /** An account as the JSON API describes it to `viewer`. */
  profile(a: Account, viewer: User | null) {
    const handle = this.handleOf(a);
    const [user = handle, host = ""] = handle.split("@");
    const isYou = a.kind === "user" && a.user === viewer;
    return {
      name: a.kind === "user" ? a.user.name : a.remote.name,
      url: a.kind === "user" ? this.blogOf(a.user) : `https://${host}/@${user}`,
      avatar:
        a.kind === "user"
          ? `${this.base}/${handle}/avatar.jpg`
          : `https://${host}/avatars/${user}.png`,
      username: handle,
      is_following: viewer?.following.has(handle.toLowerCase()) ?? false,
      is_you: isYou,
    };
  }

  /** A token that authenticates now: known and not expired. */
  validToken(token: string | null): TokenRow | null {
    const row = token ? this.tokens.get(token) : undefined;
    if (!row || (row.expiresAt !== null && row.expiresAt <= this.clock())) return null;
    return row;
  }

  /**
   * /account/verify accepted the token: "If … a client app is calling /account/verify
   * regularly, Micro.blog will automatically switch the token to be an expiring token."
   */
  verified(row: TokenRow): void {
    row.verifies += 1;
    if (row.verifies > this.expireAfter && row.expiresAt === null) {
      row.expiresAt = this.clock() + EXPIRING_TOKEN_LIFETIME_MS;
    }
  }

  /** The actors' public key (one per sandbox, made when first asked for). */
  publicKey(): string {
    this.publicKeyPem ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
      type: "spki",
      format: "pem",
    }) as string;
    return this.publicKeyPem;
  }

  private issue(user: User): string {
    const token = randomBytes(15).toString("hex").toUpperCase();
    this.tokens.set(token, { user, verifies: 0, expiresAt: null });
    return token;
  }

  // ---- seeding -----------------------------------------------------------------------------

  /** Adds a micro.blog user and returns its first app token. */
  addUser(username: string, o: UserOptions = {}): string {
    const u = UserSchema.parse({ username, ...o });
    const key = u.username.toLowerCase();
    if (this.users.has(key)) throw new Error(`user ${username} exists`);
    const user: User = {
      username: u.username,
      name: u.name ?? u.username,
      site: u.site ?? null,
      fediverse: `${key}@${this.domain.toLowerCase()}`,
      former: [],
      following: new Map(),
      followRequests: new Map(),
      aliases: [],
    };
    this.users.set(key, user);
    if (u.fediverse) this.setFediverseUsername(u.username, u.fediverse);
    return this.issue(user);
  }

  /**
   * Account → View Fediverse Details → the username: name@micro.blog's domain, or on the blog's
   * own domain. The former one is remembered (WebFinger answers it with `formerHandlesAnswer`).
   */
  setFediverseUsername(username: string, handle: string): void {
    const user = this.userOf(username);
    const next = FediverseHandle.parse(handle);
    const host = next.slice(next.indexOf("@") + 1);
    const name = next.slice(0, next.indexOf("@"));
    // On micro.blog's own domain it is the micro.blog username (@username@micro.blog, manton.org
    // 2022-10-10); only the blog's own domain lets one be chosen.
    const onMicroblog = host === this.domain.toLowerCase();
    if (onMicroblog ? name !== user.username.toLowerCase() : host !== user.site) {
      throw new Error(
        `${handle}: a Fediverse username is ${user.username}@${this.domain}, or any name on the blog's domain`,
      );
    }
    const taken = this.userByHandle(next);
    if (taken && taken !== user) throw new Error(`${handle} is taken`);
    if (next === user.fediverse) return;
    user.former = [...user.former.filter((h) => h !== next), user.fediverse];
    user.fediverse = next;
  }

  /** The user deleted the app token (Account → Edit Apps). */
  revokeAppToken(token: string): boolean {
    return this.tokens.delete(token);
  }

  issueAppToken(username: string): string {
    return this.issue(this.userOf(Username.parse(username)));
  }

  verifyCount(token: string): number {
    return this.tokens.get(token)?.verifies ?? 0;
  }

  addRemote(handle: string, o: RemoteOptions): void {
    const h = RemoteHandle.parse(handle);
    const r = RemoteOptionsSchema.parse(o);
    this.remotes.set(h.toLowerCase(), {
      handle: h,
      name: r.name ?? h.split("@")[0]!,
      exists: r.exists,
      ...(r.errorBody ? { errorBody: r.errorBody } : {}),
      ...(r.refuseFollow ? { refuseFollow: r.refuseFollow } : {}),
    });
  }

  /** Seeds a follow, as if made through the API. */
  follow(username: string, handle: string): void {
    const user = this.userOf(username);
    const target = this.lookup(handle);
    if (!target) throw new Error(`micro.blog can't find ${handle}`);
    const h = this.handleOf(target);
    user.following.set(h.toLowerCase(), h);
  }

  followRequestsOf(username: string): Record<string, number> {
    return Object.fromEntries(this.userOf(username).followRequests);
  }

  followingOf(username: string): string[] {
    return [...this.userOf(username).following.values()];
  }

  addAlias(username: string, actorUri: string): void {
    const user = this.userOf(username);
    const uri = z.url().parse(actorUri);
    if (!user.aliases.includes(uri)) user.aliases.push(uri);
  }

  removeAlias(username: string, actorUri: string): boolean {
    const user = this.userOf(username);
    const i = user.aliases.indexOf(actorUri);
    if (i < 0) return false;
    user.aliases.splice(i, 1);
    return true;
  }

  /** Resets the counters. null: no limit. */
  setRateLimit(limit: RateLimit | null): void {
    this.limiter.configure(RateLimitSchema.nullable().parse(limit));
  }
}
