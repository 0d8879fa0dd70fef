/**
 * A strict stand-in for a Mastodon server (4.x), on 127.0.0.1, for the parts fedimove reads:
 * verify_credentials, accounts show/lookup, following/followers with Link pagination,
 * relationships, instance v1/v2 and nodeinfo. It copies Mastodon's behaviour rather than
 * accepting anything: Doorkeeper's 401/403 bodies, Rack::Attack's fixed-window throttles and
 * headers, Follow-id cursors, `next` only on full pages, Rails' integer casting of params,
 * the HTML 404 for routes that don't exist. See /work/shared/reference/apis.md (A2–A5).
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
 *   POST /_sandbox/move              {username, target}
 *   POST /_sandbox/rate-limit        {limit, windowMs, perUser?, paging?} | null
 *   POST /_sandbox/reset-rate-limits
 *   POST /_sandbox/latency           {ms}
 *   POST /_sandbox/fail-next         {n, status, body?, contentType?, headers?, path?} | {n, hang: true} | {n, drop: true}
 *   GET  /_sandbox/requests          → RequestLogEntry[]
 *   POST /_sandbox/reset-log
 *
 * Bad input gets 400 {"error": …}.
 */

import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import {
  type AccountRow,
  acctParts,
  type FollowRow,
  type MastodonAccount,
  parseVersion,
  rubyToI,
  Store,
  type TokenRow,
} from "./mastodon-model.js";
import { MASTODON_404_HTML, MASTODON_500_HTML, nginxErrorPage } from "./mastodon-pages.js";
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
} from "./mastodon-model.js";
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

export type Fault = (
  | { status: number; body?: string; contentType?: string; headers?: Record<string, string> }
  /** Accept the request and never answer (until the client gives up or close()). */
  | { hang: true }
  /** Destroy the socket without answering (ECONNRESET / "fetch failed"). */
  | { drop: true }
) & {
  /** Only requests whose path starts with this consume the fault. */
  path?: string;
};

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
  moveAccount(username: string, targetAcct: string): MastodonAccount;
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
  .union([
    z.object({
      status: z.number().int().min(100).max(599),
      body: z.string().optional(),
      contentType: z.string().optional(),
      headers: z.record(z.string(), z.string()).optional(),
    }),
    z.object({ hang: z.literal(true) }),
    z.object({ drop: z.literal(true) }),
  ])
  .and(z.object({ path: z.string().startsWith("/").optional() }));
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
  latency: z.object({ ms: z.number().int().min(0) }),
  failNext: z.object({ n: z.number().int().min(1) }).and(FaultSchema),
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

interface Reply {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
  /** Rendered by an Api:: controller: gets the X-RateLimit-* headers. */
  api: boolean;
}

interface Ctx {
  req: IncomingMessage;
  path: string;
  query: URLSearchParams;
  /** Doorkeeper::OAuth::Token.authenticate: the row for a known token string, even if revoked. */
  token: TokenRow | null;
  host: string;
}

const JSON_TYPE = "application/json; charset=utf-8";

function apiJson(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(body), contentType: JSON_TYPE, headers, api: true };
}

/** Rails picks the format for respond_to { any; json } from the Accept header. */
function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  if (!accept) return false;
  // BROWSER_LIKE_ACCEPTS: a list that contains */* is treated as "no preference" → html.
  if (/,\s*\*\/\*|\*\/\*\s*,/.test(accept)) return false;
  const types = accept
    .split(",")
    .map((part, i) => {
      const [type = "", ...params] = part.split(";").map((s) => s.trim());
      const q = params.find((p) => p.startsWith("q="));
      return { type: type.toLowerCase(), q: q ? Number(q.slice(2)) : 1, i };
    })
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { type } of types) {
    if (type === "*/*") return false;
    if (type === "application/json" || type === "text/x-json" || type === "application/jsonrequest")
      return true;
  }
  return false;
}

/** ApplicationController#raise_not_found (the `*unmatched_route` catch-all). */
function routingError(req: IncomingMessage): Reply {
  if (wantsJson(req)) {
    return {
      status: 404,
      body: JSON.stringify({ error: "Not Found" }),
      contentType: JSON_TYPE,
      api: false,
    };
  }
  return {
    status: 404,
    body: MASTODON_404_HTML,
    contentType: "text/html; charset=utf-8",
    api: false,
  };
}

/** An exception nobody rescues: ActionDispatch::PublicExceptions. */
function internalError(req: IncomingMessage): Reply {
  if (wantsJson(req)) {
    return {
      status: 500,
      body: JSON.stringify({ status: 500, error: "Internal Server Error" }),
      contentType: JSON_TYPE,
      api: false,
    };
  }
  return {
    status: 500,
    body: MASTODON_500_HTML,
    contentType: "text/html; charset=utf-8",
    api: false,
  };
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

/** CGI.escape, as Hash#to_query writes query values. */
function cgiEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/%20/g, "+")
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%7E/g, "~");
}

/** A cursor param as the Follow id column casts it: Ruby to_i, out-of-range → ±Infinity. */
function cursor(value: string | null): number | null {
  if (value === null || value.trim() === "") return null; // `.present?`
  const n = rubyToI(value);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return Number.POSITIVE_INFINITY;
  if (n < -BigInt(Number.MAX_SAFE_INTEGER)) return Number.NEGATIVE_INFINITY;
  return Number(n);
}

/** Follow.paginate_by_max_id(limit, max_id, since_id) over rows sorted by ascending id. */
function paginateByMaxId(
  rows: readonly FollowRow[],
  limit: number,
  maxId: number | null,
  sinceId: number | null,
): FollowRow[] {
  const firstIndexWhere = (pred: (r: FollowRow) => boolean): number => {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(rows[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const end = maxId === null ? rows.length : firstIndexWhere((r) => r.id >= maxId);
  const start = sinceId === null ? 0 : firstIndexWhere((r) => r.id > sinceId);
  const out: FollowRow[] = [];
  for (let i = end - 1; i >= start && out.length < limit; i--) out.push(rows[i]!);
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

// ---- the sandbox --------------------------------------------------------------------------

export async function startMastodonSandbox(
  opts: MastodonSandboxOptions = {},
): Promise<MastodonSandbox> {
  const { now: clock = Date.now, ...rest } = opts;
  const options = OptionsSchema.parse(rest);
  const version = options.version ?? "4.3.2";
  const maxCharacters = options.maxCharacters ?? 500;

  const server: Server = createServer({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const domain = options.domain ?? `127.0.0.1:${port}`;
  const store = new Store(
    domain,
    options.domain ? `https://${domain}` : url,
    parseVersion(version),
  );
  const rack = new RackAttack(
    options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit,
  );
  let latencyMs = 0;
  const faults: { remaining: number; fault: Fault }[] = [];
  let log: RequestLogEntry[] = [];
  let seedSeq = 0;

  // ---- seeding --------------------------------------------------------------------------

  const localAccount = (username: string): AccountRow => {
    const row = store.findByAcct(username);
    if (!row || row.domain !== null) throw new Error(`no local account ${username}`);
    return row;
  };

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
      return store.serializeAccount(row);
    },
    addRemoteAccount(acct: string, o?: RemoteAccountOptions): MastodonAccount {
      return store.serializeAccount(addRemote(acct, o));
    },
    getAccount(acct: string): MastodonAccount | undefined {
      const row = store.findByAcct(acct);
      return row ? store.serializeAccount(row) : undefined;
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
      return store.serializeAccount(source);
    },
    setRateLimit(config: RateLimitConfig | null): void {
      rack.configure(RateLimitSchema.nullable().parse(config));
    },
    resetRateLimits(): void {
      rack.reset();
    },
    setLatency(ms: number): void {
      latencyMs = z.number().int().min(0).parse(ms);
    },
    failNext(n: number, fault: Fault): void {
      const count = z.number().int().min(1).parse(n);
      faults.push({ remaining: count, fault: FaultSchema.parse(fault) as Fault });
    },
    resetLog(): void {
      log = [];
    },
  };

  // ---- /_sandbox control endpoints -------------------------------------------------------

  const control = async (req: IncomingMessage, path: string): Promise<Reply> => {
    const ok = (body: unknown, status = 200): Reply => ({
      status,
      body: JSON.stringify(body),
      contentType: JSON_TYPE,
      api: false,
    });
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/_sandbox/requests") return ok(log);
    if (method === "GET" && path === "/_sandbox") {
      return ok({ url, domain, version, accounts: store.accounts.size });
    }
    if (method !== "POST") return ok({ error: "Not Found" }, 404);
    const text = await readBody(req);
    let input: unknown;
    try {
      input = text.trim() === "" ? {} : JSON.parse(text);
    } catch {
      return ok({ error: "body is not JSON" }, 400);
    }
    try {
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
        case "/_sandbox/latency":
          api.setLatency(CONTROL.latency.parse(input).ms);
          return ok({});
        case "/_sandbox/fail-next": {
          const { n, ...fault } = CONTROL.failNext.parse(input);
          api.failNext(n, fault as Fault);
          return ok({});
        }
        case "/_sandbox/reset-log":
          api.resetLog();
          return ok({});
        default:
          return ok({ error: "Not Found" }, 404);
      }
    } catch (err) {
      const message = err instanceof z.ZodError ? z.prettifyError(err) : String(err);
      return ok({ error: message }, 400);
    }
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
    if (!scopes.some((s) => token.scopes.includes(s))) {
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
    const me = ctx.token ? store.accounts.get(ctx.token.accountId) : undefined;
    if (!me) return apiJson(422, { error: "This method requires an authenticated user" });
    if (me.movedToAccountId !== null) {
      return apiJson(403, { error: "Your login is currently disabled" });
    }
    return null;
  };

  const currentAccount = (ctx: Ctx): AccountRow | undefined =>
    ctx.token && !ctx.token.revoked ? store.accounts.get(ctx.token.accountId) : undefined;

  const recordNotFound = (): Reply => apiJson(404, { error: "Record not found" });

  const accountList = (ctx: Ctx, rawId: string, kind: "following" | "followers"): Reply => {
    const denied = authorizeIfGotToken(ctx, ["read", "read:accounts"]);
    if (denied) return denied;
    const account = store.findById(rawId);
    if (!account) return recordNotFound();

    const limitRaw = ctx.query.get("limit");
    // limit_param(DEFAULT_ACCOUNTS_LIMIT): [params[:limit].to_i.abs, 40 * 2].min
    const limit = limitRaw === null ? 40 : Math.min(Math.abs(Number(rubyToI(limitRaw))), 80);
    const me = currentAccount(ctx);
    const hidden = account.hideCollections === true && me?.id !== account.id;
    const rows = kind === "following" ? account.following : account.followers;
    const page = hidden
      ? []
      : paginateByMaxId(
          rows,
          limit,
          cursor(ctx.query.get("max_id")),
          cursor(ctx.query.get("since_id")),
        );
    const accounts = page.map(
      (f) => store.accounts.get(kind === "following" ? f.targetAccountId : f.accountId)!,
    );

    // after_action :insert_pagination_headers
    const links: string[] = [];
    const base = `http://${ctx.host}/api/v1/accounts/${rawId}/${kind}`;
    const query = (core: string): string =>
      limitRaw === null ? core : `limit=${cgiEscape(limitRaw)}&${core}`;
    if (page.length === limit) {
      // records_continue? — with limit=0 Mastodon calls .id on nil here and answers 500.
      const last = page.at(-1);
      if (!last) return internalError(ctx.req);
      links.push(`<${base}?${query(`max_id=${last.id}`)}>; rel="next"`);
    }
    const first = page[0];
    if (first) links.push(`<${base}?${query(`since_id=${first.id}`)}>; rel="prev"`);
    return apiJson(
      200,
      accounts.map((a) => store.serializeAccount(a)),
      links.length > 0 ? { Link: links.join(", ") } : undefined,
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
      vapid: {
        public_key:
          "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=",
      },
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

  const route = (ctx: Ctx, method: string): Reply => {
    const { path, query } = ctx;
    if (method !== "GET") return routingError(ctx.req);

    if (path === "/api/v1/accounts/verify_credentials") {
      const scopes = store.atLeast(4, 3)
        ? ["profile", "read", "read:accounts"]
        : ["read", "read:accounts"];
      const denied = doorkeeperAuthorize(ctx, scopes) ?? requireUser(ctx);
      if (denied) return denied;
      return apiJson(200, store.serializeCredentialAccount(currentAccount(ctx)!));
    }

    if (path === "/api/v1/accounts/lookup") {
      const denied = authorizeIfGotToken(ctx, ["read", "read:accounts"]);
      if (denied) return denied;
      const acct = query.get("acct");
      const account = acct ? store.findByAcct(acct) : undefined;
      return account ? apiJson(200, store.serializeAccount(account)) : recordNotFound();
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
        out.push(store.serializeRelationship(me, account));
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
      return account ? apiJson(200, store.serializeAccount(account)) : recordNotFound();
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

  const send = (
    res: ServerResponse,
    head: boolean,
    reply: Reply,
    extra: Record<string, string>,
  ) => {
    if (res.destroyed || res.headersSent) return;
    res.statusCode = reply.status;
    res.setHeader("Content-Type", reply.contentType);
    for (const [k, v] of Object.entries({ ...extra, ...reply.headers })) res.setHeader(k, v);
    res.setHeader("Content-Length", Buffer.byteLength(reply.body));
    res.end(head ? undefined : reply.body);
  };

  const takeFault = (path: string): Fault | null => {
    const i = faults.findIndex((f) => f.fault.path === undefined || path.startsWith(f.fault.path));
    const slot = faults[i];
    if (!slot) return null;
    slot.remaining -= 1;
    if (slot.remaining <= 0) faults.splice(i, 1);
    return slot.fault;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const rawUrl = req.url ?? "/";
    const parsed = new URL(rawUrl, "http://sandbox.invalid");
    // Journey normalizes repeated and trailing slashes.
    const path = parsed.pathname.replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1");
    const head = req.method === "HEAD";
    const method = head ? "GET" : (req.method ?? "GET");

    if (path === "/_sandbox" || path.startsWith("/_sandbox/")) {
      send(res, head, await control(req, path), {});
      return;
    }

    const query = parsed.searchParams;
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
    log.push(entry);
    res.on("close", () => {
      entry.status = res.headersSent ? res.statusCode : 0;
      entry.durationMs = Date.now() - started;
    });

    if (latencyMs > 0) {
      await sleep(latencyMs);
      if (res.destroyed || req.socket.destroyed) return;
    }

    const fault = takeFault(path);
    if (fault) {
      if ("hang" in fault) return; // never answer; close() or the client ends it
      if ("drop" in fault) {
        req.socket.destroy();
        return;
      }
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
      send(res, head, { status: fault.status, body, contentType, api: false }, fault.headers ?? {});
      return;
    }

    // Rack::Attack runs before routing: unknown routes and wrong methods count too.
    const nowMs = clock();
    let outcome: ThrottleOutcome | null = null;
    outcome = rack.check(
      {
        api: path.startsWith("/api"),
        paging: isPagingRequest(query),
        userId: token?.accountId ?? null,
        tokenId: token ? String(token.id) : null,
        ip: throttleableIp(req),
      },
      nowMs,
    );
    if (outcome?.matched) {
      const { "Content-Type": contentType = "application/json", ...headers } = throttledHeaders(
        outcome.matched,
        nowMs,
      );
      send(
        res,
        head,
        {
          status: 429,
          body: JSON.stringify({ error: "Too many requests" }),
          contentType,
          api: false,
        },
        headers,
      );
      return;
    }

    const ctx: Ctx = { req, path, query, token, host: req.headers.host ?? `127.0.0.1:${port}` };
    let reply: Reply;
    try {
      reply = route(ctx, method);
    } catch {
      reply = internalError(req);
    }
    const extra: Record<string, string> = {
      "Cache-Control": "private, no-store",
      "X-Request-Id": randomUUID(),
    };
    if (reply.api) Object.assign(extra, successHeaders(outcome, nowMs));
    send(res, head, reply, extra);
  };

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => {
      send(res, req.method === "HEAD", internalError(req), {});
    });
  });

  return {
    url,
    port,
    domain,
    version,
    ...api,
    get requests(): readonly RequestLogEntry[] {
      return log;
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
