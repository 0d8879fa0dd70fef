/**
 * The Mastodon stand-in as the server a user moves TO: finding accounts and following them.
 *
 *   GET  /api/v2/search?q=&type=accounts&resolve=true&limit=&offset=    Api::V2::SearchController
 *   POST /api/v1/accounts/:id/follow     reblogs, notify, languages[]    Api::V1::AccountsController#follow
 *   POST /api/v1/accounts/:id/unfollow
 *
 * Copied from Mastodon:
 * - search: `authorize_if_got_token! :read, :'read:search'`; without a signed-in user,
 *   `resolve` and `offset` are 401s; `q` is required; an exact `user@host` match comes first
 *   (WebFingered when resolve=true and unknown), then prefix matches that exclude moved
 *   accounts; limit 20, at most 40; offset only with a type;
 * - follow: `follow`, `write` or `write:follows`; following yourself is 403; a moved, blocked,
 *   blocking or domain-blocked target is 403 "This action is not allowed"; any remote target
 *   gets a FollowRequest (pending until the remote Accept: acceptPendingFollows() or the
 *   auto-accept delay), a locked local one too; the response is optimistic
 *   (following: true, requested: false) unless the target is locked; following again only
 *   changes the options;
 * - RateLimiter family :follows, 400 per 24 h per local account in a fixed window keyed on
 *   epoch/period: a new Follow or FollowRequest past it is 429 "Too many requests"; the
 *   follow action's responses carry the family's X-RateLimit-* headers unless Rack::Attack's
 *   are tighter (override_rate_limit_headers).
 */

import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { serializeAccount, serializeRelationship } from "./mastodon-entities.js";
import type { Federation } from "./mastodon-federation.js";
import {
  apiJson,
  blank,
  type Params,
  type Reply,
  recordNotFound,
  scalarParam,
} from "./mastodon-http.js";
import { type AccountRow, acctParts, type FollowRow, rubyToI } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";
import { iso8601Micro, resetAt } from "./mastodon-throttle.js";

export interface FollowLimitConfig {
  limit: number;
  /** Default 24 h. */
  periodMs?: number;
}

export const FollowLimitSchema = z.object({
  limit: z.number().int().min(0),
  periodMs: z.number().int().positive().optional(),
});

export interface AcceptFollowsOptions {
  /** Only requests made by this local account. */
  follower?: string;
  /** Only requests to this account (acct). */
  target?: string;
  /** Also requests to locked accounts (their owner approves). Default false. */
  includeLocked?: boolean;
}

/** What the follow routes need from the request pipeline. */
export interface TargetRequest {
  req: IncomingMessage;
  path: string;
  query: URLSearchParams;
  params: Params;
  /** doorkeeper_authorize!(*scopes) */
  authorize(scopes: string[]): Reply | null;
  /** authorize_if_got_token!(*scopes) */
  authorizeIfGotToken(scopes: string[]): Reply | null;
  /** require_user! */
  requireUser(): Reply | null;
  /** current_account: the valid token's owner. */
  currentAccount(): AccountRow | undefined;
  /** The X-RateLimit-* headers Rack::Attack gives this request (may be empty). */
  rackHeaders: Record<string, string>;
  nowMs: number;
}

const DEFAULT_FOLLOW_LIMIT = { limit: 400, periodMs: 24 * 60 * 60 * 1000 };
/** Api::V2::SearchController::RESULTS_LIMIT */
const RESULTS_LIMIT = 20;
/** AccountSearchService::MIN_QUERY_LENGTH */
const MIN_QUERY_LENGTH = 3;
/** "@#{query}" =~ MENTION_ONLY_RE (no port in the domain, as Mastodon's). */
const USERNAME_COMPLETE = /^[a-z0-9_]+([.-]+[a-z0-9_]+)*@\w+([.-]+\w+)*$/i;

/** ActiveModel::Type::Boolean.new.cast: nil/"" → nil, the usual false strings → false. */
function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === "" || value === false || value === 0) {
    return false;
  }
  if (typeof value === "string") {
    return !["0", "f", "F", "false", "FALSE", "off", "OFF"].includes(value);
  }
  return true;
}

/** RateLimiter: a counter per account and window (`epoch / period`), Redis-style. */
class FollowLimiter {
  private config: { limit: number; periodMs: number } | null = DEFAULT_FOLLOW_LIMIT;
  private readonly counts = new Map<string, number>();

  configure(config: FollowLimitConfig | null): void {
    this.counts.clear();
    if (config === null) {
      this.config = null;
      return;
    }
    const c = FollowLimitSchema.parse(config);
    this.config = { limit: c.limit, periodMs: c.periodMs ?? DEFAULT_FOLLOW_LIMIT.periodMs };
  }

  reset(): void {
    this.counts.clear();
  }

  private key(accountId: string, nowMs: number, periodMs: number): string {
    return `${accountId}:${Math.floor(nowMs / periodMs)}`;
  }

  /** record!: false (nothing counted) when the window's count already reached the limit. */
  record(accountId: string, nowMs: number): boolean {
    if (this.config === null) return true;
    const key = this.key(accountId, nowMs, this.config.periodMs);
    const count = this.counts.get(key) ?? 0;
    if (count >= this.config.limit) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  /** to_headers, or null when the family isn't limited. */
  headers(accountId: string, nowMs: number): Record<string, string> | null {
    if (this.config === null) return null;
    const { limit, periodMs } = this.config;
    const count = this.counts.get(this.key(accountId, nowMs, periodMs)) ?? 0;
    return {
      "X-RateLimit-Limit": String(limit),
      "X-RateLimit-Remaining": String(limit - count),
      "X-RateLimit-Reset": iso8601Micro(resetAt(nowMs, periodMs)),
    };
  }
}

export class FollowTarget {
  private readonly limiter = new FollowLimiter();
  /** FollowRequests made through the API, with the sandbox time they were made. */
  private readonly requestedAt = new Map<FollowRow, number>();
  private autoAcceptMs: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly fed: Federation,
    private readonly clock: () => number,
  ) {}

  setFollowLimit(config: FollowLimitConfig | null): void {
    this.limiter.configure(config);
  }

  resetFollowLimits(): void {
    this.limiter.reset();
  }

  /** Remote unlocked targets Accept this many sandbox-clock ms after the request; null: never by themselves. */
  setAutoAccept(ms: number | null): void {
    this.autoAcceptMs = z.number().int().min(0).nullable().parse(ms);
  }

  /** Accepts the auto-accepted requests that are due. */
  settle(now = this.clock()): void {
    if (this.autoAcceptMs === null || this.requestedAt.size === 0) return;
    for (const [row, at] of this.requestedAt) {
      const follower = this.store.accounts.get(row.accountId);
      const target = this.store.accounts.get(row.targetAccountId);
      if (!follower || !target || this.store.requestOf(follower, target) !== row) {
        this.requestedAt.delete(row);
        continue;
      }
      if (target.domain === null || target.locked) continue;
      if (at + this.autoAcceptMs <= now) {
        this.store.acceptRequest(follower, target);
        this.requestedAt.delete(row);
      }
    }
  }

  /** The remote Accepts arrive: pending requests of local accounts become follows. Returns how many. */
  acceptPendingFollows(opts: AcceptFollowsOptions = {}): number {
    const o = z
      .object({
        follower: z.string().optional(),
        target: z.string().optional(),
        includeLocked: z.boolean().optional(),
      })
      .parse(opts);
    const follower = o.follower === undefined ? undefined : this.store.findByAcct(o.follower);
    const target = o.target === undefined ? undefined : this.store.findByAcct(o.target);
    if (o.follower !== undefined && !follower) throw new Error(`no account ${o.follower}`);
    if (o.target !== undefined && !target) throw new Error(`no account ${o.target}`);
    let n = 0;
    for (const r of [...this.store.requests.values()]) {
      const a = this.store.accounts.get(r.accountId);
      const t = this.store.accounts.get(r.targetAccountId);
      if (!a || !t || a.domain !== null) continue;
      if (follower && a !== follower) continue;
      if (target && t !== target) continue;
      if (t.locked && !o.includeLocked) continue;
      this.store.acceptRequest(a, t);
      this.requestedAt.delete(r);
      n += 1;
    }
    return n;
  }

  /** The routes of this module; null when the path/method is not one of them. */
  route(ctx: TargetRequest, method: string): Reply | Promise<Reply> | null {
    if (method === "GET" && ctx.path === "/api/v2/search") return this.search(ctx);
    if (method !== "POST") return null;
    const m = /^\/api\/v1\/accounts\/([^/.?]+)\/(follow|unfollow)$/.exec(ctx.path);
    if (!m) return null;
    return m[2] === "follow" ? this.follow(ctx, m[1]!) : this.unfollow(ctx, m[1]!);
  }

  // ---- follow / unfollow ---------------------------------------------------------------

  private follow(ctx: TargetRequest, rawId: string): Reply {
    const denied = ctx.authorize(["follow", "write", "write:follows"]) ?? ctx.requireUser();
    if (denied) return denied;
    const me = ctx.currentAccount()!;
    const target = this.store.findById(rawId);
    if (!target) return recordNotFound();
    // check_following_self
    if (target.id === me.id) {
      return apiJson(403, { error: "Following your own account is not allowed" });
    }
    // override_rate_limit_headers :follow, family: :follows (an around_action: every outcome
    // of the action itself, the 403 and the 429 included).
    return this.withFollowHeaders(ctx, me, this.followAction(ctx, me, target));
  }

  private followAction(ctx: TargetRequest, me: AccountRow, target: AccountRow): Reply {
    const store = this.store;
    // FollowService#following_not_allowed?
    if (
      target.movedToAccountId !== null ||
      store.blockOf(target, me) !== undefined ||
      store.blockOf(me, target) !== undefined ||
      store.domainBlocking(me, target)
    ) {
      return apiJson(403, { error: "This action is not allowed" });
    }
    const p = ctx.params;
    const reblogs = "reblogs" in p ? truthy(p.reblogs) : undefined;
    const notify = "notify" in p ? truthy(p.notify) : undefined;
    let languages: string[] | null | undefined;
    if ("languages" in p) {
      const raw = p.languages;
      const list = (Array.isArray(raw) ? raw : raw === null || raw === undefined ? [] : [raw])
        .filter((l): l is string => typeof l === "string" && l.trim() !== "")
        .filter((l, i, all) => all.indexOf(l) === i);
      languages = list.length > 0 ? list : null;
    }
    const opts = {
      ...(reblogs !== undefined ? { showReblogs: reblogs } : {}),
      ...(notify !== undefined ? { notify } : {}),
      ...(languages !== undefined ? { languages } : {}),
    };

    let row = store.followOf(me, target) ?? store.requestOf(me, target);
    if (row) {
      // change_follow_options! / change_follow_request_options!: no new record, no rate limit.
      row = store.follow(me, target, opts);
    } else {
      if (!this.limiter.record(me.id, ctx.nowMs)) {
        return apiJson(429, { error: "Too many requests" });
      }
      const pending = target.locked || target.domain !== null;
      row = store.follow(me, target, { ...opts, pending });
      if (pending) this.requestedAt.set(row, this.clock());
    }

    const actual = serializeRelationship(store, me, target);
    if (target.locked) return apiJson(200, actual);
    // The optimistic maps: following as the Follow(Request) says, requested: false.
    return apiJson(200, {
      ...actual,
      following: true,
      showing_reblogs: row.showReblogs,
      notifying: row.notify,
      ...("languages" in actual ? { languages: row.languages } : {}),
      requested: false,
    });
  }

  private withFollowHeaders(ctx: TargetRequest, me: AccountRow, reply: Reply): Reply {
    const family = this.limiter.headers(me.id, ctx.nowMs);
    if (!family) return reply;
    const rack = ctx.rackHeaders["X-RateLimit-Remaining"];
    if (rack !== undefined && Number(family["X-RateLimit-Remaining"]) > Number(rack)) {
      return reply;
    }
    return { ...reply, headers: { ...reply.headers, ...family } };
  }

  private unfollow(ctx: TargetRequest, rawId: string): Reply {
    const denied = ctx.authorize(["follow", "write", "write:follows"]) ?? ctx.requireUser();
    if (denied) return denied;
    const me = ctx.currentAccount()!;
    const target = this.store.findById(rawId);
    if (!target) return recordNotFound();
    const request = this.store.requestOf(me, target);
    if (request) this.requestedAt.delete(request);
    this.store.unfollow(me, target);
    return apiJson(200, serializeRelationship(this.store, me, target));
  }

  // ---- search --------------------------------------------------------------------------

  private async search(ctx: TargetRequest): Promise<Reply> {
    const denied = ctx.authorizeIfGotToken(["read", "read:search"]);
    if (denied) return denied;
    const p = ctx.params;
    const q = scalarParam(p, "q");
    if (blank(q)) return apiJson(400, { error: "param is missing or the value is empty: q" });
    const me = ctx.currentAccount();
    const resolve = truthy(p.resolve);
    const offsetRaw = scalarParam(p, "offset");
    if (!me) {
      if (!blank(offsetRaw)) {
        return apiJson(401, {
          error: "Search queries pagination is not supported without authentication",
        });
      }
      if (resolve) {
        return apiJson(401, {
          error:
            "Search queries that resolve remote resources are not supported without authentication",
        });
      }
    }
    const limitRaw = scalarParam(p, "limit");
    if (
      (limitRaw !== undefined && rubyToI(limitRaw) < 0n) ||
      (offsetRaw !== undefined && rubyToI(offsetRaw) < 0n)
    ) {
      return apiJson(400, {
        error: "Pagination values for `offset` and `limit` must be positive",
      });
    }
    // limit_param(RESULTS_LIMIT)
    const limit =
      limitRaw === undefined
        ? RESULTS_LIMIT
        : Math.min(Number(rubyToI(limitRaw)), RESULTS_LIMIT * 2);
    const type = scalarParam(p, "type");
    const offset = blank(type) ? 0 : Number(rubyToI(offsetRaw ?? "0"));
    const query = q!.trim();
    const accounts = await this.searchAccounts(query, me, { limit, offset, resolve, type });
    return apiJson(200, {
      accounts: accounts.map((a) => serializeAccount(this.store, a)),
      statuses: [],
      hashtags: [],
    });
  }

  /** SearchService#call, accounts only (statuses and hashtags aren't modelled). */
  private async searchAccounts(
    query: string,
    me: AccountRow | undefined,
    o: { limit: number; offset: number; resolve: boolean; type: string | undefined },
  ): Promise<AccountRow[]> {
    if (query === "" || o.limit === 0) return [];
    const accountSearch = blank(o.type) || o.type === "accounts";
    if (o.resolve && /^https?:\/\//.test(query)) {
      // url_resource: only accounts are resolved here (known, local, or registered by URI).
      if (o.offset > 0 || !accountSearch) return [];
      const found = this.fed.findByUri(query);
      return found ? [found] : [];
    }
    if (!accountSearch || query.startsWith("#") || (query.includes("@") && query.includes(" "))) {
      return [];
    }
    // AccountSearchService
    const q = query.replace(/^@/, "");
    const parts = q.split("@");
    const username = parts[0] ?? "";
    const domain = parts.length === 1 ? null : (parts.at(-1) ?? "").toLowerCase();
    const localDomain = this.store.isLocalDomain(domain);
    let exact: AccountRow | null = null;
    if (o.offset === 0 && q.includes("@") && USERNAME_COMPLETE.test(q)) {
      if (o.resolve) {
        exact = await this.fed.resolveAccount(q);
      } else {
        const row = this.store.findByAcct(localDomain ? username : q);
        exact = row && (localDomain ? row.domain === null : row.domain !== null) ? row : null;
      }
    }
    const nonExact = !me && q.length < MIN_QUERY_LENGTH ? 0 : exact ? o.limit - 1 : o.limit;
    const out: AccountRow[] = exact ? [exact] : [];
    if (nonExact > 0) {
      const matches = this.prefixMatches(localDomain ? username : q)
        .filter((a) => a !== exact)
        .slice(o.offset, o.offset + nonExact);
      out.push(...matches);
    }
    return out;
  }

  /**
   * Account.search_for, roughly: username (and domain) prefixes or a display-name word prefix;
   * the `searchable` scope leaves out moved accounts. Exact usernames first, then by followers.
   */
  private prefixMatches(terms: string): AccountRow[] {
    const t = terms.toLowerCase();
    const { username, domain } = acctParts(t);
    const out: AccountRow[] = [];
    for (const a of this.store.accounts.values()) {
      if (a.movedToAccountId !== null) continue;
      const byName =
        a.username.toLowerCase().startsWith(username) &&
        (domain === null || (a.domain ?? this.store.domain.toLowerCase()).startsWith(domain));
      const byDisplay =
        domain === null &&
        a.displayName
          .toLowerCase()
          .split(/\s+/)
          .some((w) => w !== "" && w.startsWith(t));
      if (byName || byDisplay) out.push(a);
    }
    const followers = (a: AccountRow) =>
      a.domain === null ? a.followers.length : a.reportedFollowers;
    return out.sort(
      (a, b) =>
        Number(b.username.toLowerCase() === username) -
          Number(a.username.toLowerCase() === username) ||
        followers(b) - followers(a) ||
        this.store.acctOf(a).localeCompare(this.store.acctOf(b)),
    );
  }
}
