/**
 * The federation side of the Mastodon stand-in: how other servers see its local accounts,
 * how it resolves remote ones, and the account migration (Move) as the web settings do it.
 *
 *   GET /.well-known/webfinger?resource=acct:user@DOMAIN | actor URL    WellKnown::WebfingerController
 *   GET /users/:username              actor (Accept: activity+json/ld+json/json), else 301 → /@user
 *   GET /@:username                   HTML profile, or the actor for JSON
 *   GET /users/:username/followers    OrderedCollection (+ ?page=N, 12 a page), as
 *   GET /users/:username/following    Follower/FollowingAccountsController serve them
 *
 * Every id is https://DOMAIN/… (the store's publicBase), so tests map domains to sandbox
 * origins with `originOf`.
 *
 * Remote accounts are resolved (ResolveAccountService) from, in order: the accounts the store
 * already has (unless skip_cache), the resolvables registered with addResolvable, and the
 * `resolveActor` hook — by default WebFinger + actor over HTTP from `originOf(host)`, which
 * knows only loopback hosts unless you give it more (no real network by default).
 *
 * The Move (AccountMigration + MoveService): validation with Mastodon's messages, `moved` set
 * at once, local followers moved at once (MoveWorker), remote followers leaving tick by tick
 * (or transferNow), stragglers never.
 */

import { generateKeyPairSync } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { escapeHtml } from "./html.js";
import { html, JSON_TYPE, type Reply, redirect, wantsJson } from "./mastodon-http.js";
import { MASTODON_404_HTML } from "./mastodon-pages.js";
import { type AccountRow, acctParts, type FollowRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

// ---- public types ---------------------------------------------------------------------

/** What a resolver learns about a remote actor (WebFinger + the actor document). */
export interface ResolvedActor {
  /** The actor id (ActivityPub URI). */
  id: string;
  /** user@host as WebFinger's subject gives it. Default: the acct that was asked for. */
  acct?: string;
  alsoKnownAs: string[];
  /** manuallyApprovesFollowers */
  locked?: boolean;
  /** The actor's movedTo (a URI), or an acct. */
  movedTo?: string | null;
  displayName?: string;
  bot?: boolean;
  /** The profile page. */
  url?: string;
  /** totalItems of the followers / following collections. */
  followersCount?: number;
  followingCount?: number;
}

/** Resolve `user@host` (no leading @) to its actor, or null when it can't be found. */
export type ResolveActor = (acct: string) => Promise<ResolvedActor | null>;

/** The origin (scheme://host:port) to fetch `https://HOST/…` from; null/undefined: unreachable. */
export type OriginOf = (host: string) => string | null | undefined;

/** A remote account the stand-in can WebFinger although it doesn't know it yet. */
export interface ResolvableOptions {
  displayName?: string;
  locked?: boolean;
  bot?: boolean;
  /** The account has moved: to this acct (created when needed), or `true` for user@moved.DOMAIN. */
  moved?: string | boolean;
  /** Actor URIs in its alsoKnownAs. */
  alsoKnownAs?: string[];
  /** The actor id, when it isn't https://host/users/user (micro.blog: https://micro.blog/activitypub/user). */
  uri?: string;
  /** The profile page, when it isn't https://host/@user. */
  url?: string;
  followersCount?: number;
  followingCount?: number;
  statusesCount?: number;
}

export interface LeavingFollower {
  acct: string;
  showReblogs: boolean;
  notify: boolean;
  languages: string[] | null;
}

export interface TransferOptions {
  /** Followers that leave the old account per tick. */
  perTick: number;
  /** Sandbox-clock ms between ticks; the first tick is tickMs after the move. */
  tickMs: number;
  /** Follower domains whose servers never process the Move: those followers stay. */
  stragglers?: string[];
  /** Called (in-process only) for each follower as it leaves, e.g. to follow the new account elsewhere. */
  onLeave?: (follower: LeavingFollower) => void;
}

export interface PerformMoveOptions {
  /** When the migration is submitted (sandbox-clock ms). Default: now. */
  at?: number;
  /** Remote followers leave tick by tick. Without it they only leave through transferNow(). */
  transfer?: TransferOptions;
}

export interface MigrationRecord {
  /** The acct as submitted (leading @ stripped). */
  acct: string;
  targetAccountId: string;
  /** Sandbox-clock ms. */
  at: number;
  /** Account#followers_count at submit time. */
  followersCount: number;
}

/** A failed validation: `message` is "Validation failed: " + Rails' full messages. */
export class ValidationError extends Error {
  constructor(readonly errors: { attribute: string; type: string; message: string }[]) {
    super(`Validation failed: ${errors.map((e) => e.message).join(", ")}`);
    this.name = "ValidationError";
  }
}

// ---- schemas --------------------------------------------------------------------------

const AcctRe = /^@?[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?(@[a-z0-9.-]+(:\d+)?)?$/i;
const Acct = z.string().trim().regex(AcctRe, "not user or user@host");
const RemoteAcct = z
  .string()
  .trim()
  .regex(/^@?[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?@[a-z0-9.-]+(:\d+)?$/i, "not user@host");
const Count = z.number().int().min(0).max(100_000_000);
export const ResolvableSchema = z.object({
  displayName: z.string().optional(),
  locked: z.boolean().optional(),
  bot: z.boolean().optional(),
  moved: z.union([z.boolean(), Acct]).optional(),
  alsoKnownAs: z.array(z.url()).optional(),
  uri: z.url().optional(),
  url: z.url().optional(),
  followersCount: Count.optional(),
  followingCount: Count.optional(),
  statusesCount: Count.optional(),
});
export const TransferSchema = z.object({
  perTick: z.number().int().min(1),
  tickMs: z.number().int().positive(),
  stragglers: z.array(z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i)).optional(),
});
const PerformMoveSchema = z.object({
  at: z.number().int().min(0).optional(),
  transfer: TransferSchema.optional(),
});

const JrdSchema = z.object({
  subject: z.string().optional(),
  links: z
    .array(z.object({ rel: z.string(), type: z.string().optional(), href: z.string().optional() }))
    .default([]),
});
const ActorSchema = z.object({
  id: z.string(),
  type: z.string().optional(),
  preferredUsername: z.string().optional(),
  name: z.string().nullish(),
  url: z.union([z.string(), z.object({ href: z.string() })]).nullish(),
  manuallyApprovesFollowers: z.boolean().nullish(),
  alsoKnownAs: z.union([z.string(), z.array(z.string())]).nullish(),
  movedTo: z.string().nullish(),
  followers: z.string().nullish(),
  following: z.string().nullish(),
});
const CollectionSchema = z.object({ totalItems: z.number().int().min(0) });

const COOLDOWN_MS = 30 * 24 * 60 * 60 * 1000;
/** FollowerAccountsController::FOLLOW_PER_PAGE */
const FOLLOW_PER_PAGE = 12;
const AP_TYPE = "application/activity+json; charset=utf-8";
const FETCH_TIMEOUT_MS = 5_000;
const AP_ACCEPT =
  'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"';

// ---- the default resolver -------------------------------------------------------------

/** Loopback hosts are fetched over http; anything else is unreachable (no real network). */
export function loopbackOriginOf(host: string): string | null {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i.test(host) ? `http://${host}` : null;
}

async function fetchJson(url: string, accept: string): Promise<unknown> {
  try {
    const res = await fetch(url, {
      headers: { Accept: accept },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (!res.ok) return null;
    return await res.json();
  } catch {
    return null;
  }
}

/** `https://host/path` fetched from originOf(host). */
function mapped(originOf: OriginOf, uri: string): string | null {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return null;
  }
  const origin = originOf(u.host);
  return origin ? `${origin.replace(/\/+$/, "")}${u.pathname}${u.search}` : null;
}

/**
 * ResolveAccountService over HTTP: WebFinger at originOf(host), the `self` link's actor,
 * and the totalItems of its followers/following collections.
 */
export function httpResolveActor(originOf: OriginOf): ResolveActor {
  return async (acct) => {
    const { username, domain } = acctParts(acct);
    if (!domain) return null;
    const wfUrl = mapped(
      originOf,
      `https://${domain}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${username}@${domain}`)}`,
    );
    if (!wfUrl) return null;
    const jrd = JrdSchema.safeParse(await fetchJson(wfUrl, "application/jrd+json"));
    if (!jrd.success) return null;
    const self = jrd.data.links.find(
      (l) =>
        l.rel === "self" &&
        l.href !== undefined &&
        /^application\/(activity\+json|ld\+json)/.test(l.type ?? ""),
    );
    const actorUrl = self?.href ? mapped(originOf, self.href) : null;
    if (!actorUrl) return null;
    const actor = ActorSchema.safeParse(await fetchJson(actorUrl, AP_ACCEPT));
    if (!actor.success) return null;
    const a = actor.data;
    const total = async (uri: string | null | undefined): Promise<number | undefined> => {
      const url = uri ? mapped(originOf, uri) : null;
      if (!url) return undefined;
      const c = CollectionSchema.safeParse(await fetchJson(url, AP_ACCEPT));
      return c.success ? c.data.totalItems : undefined;
    };
    const subject = jrd.data.subject?.replace(/^acct:/, "");
    const aka = a.alsoKnownAs ?? [];
    const out: ResolvedActor = {
      id: a.id,
      acct: subject?.includes("@") ? subject : `${username}@${domain}`,
      alsoKnownAs: typeof aka === "string" ? [aka] : aka,
      locked: a.manuallyApprovesFollowers ?? false,
      movedTo: a.movedTo ?? null,
      displayName: a.name ?? "",
      bot: a.type === "Service" || a.type === "Application",
    };
    const url = typeof a.url === "string" ? a.url : a.url?.href;
    if (url) out.url = url;
    const followers = await total(a.followers);
    if (followers !== undefined) out.followersCount = followers;
    const following = await total(a.following);
    if (following !== undefined) out.followingCount = following;
    return out;
  };
}

// ---- the federation state -------------------------------------------------------------

interface Resolvable extends ResolvableOptions {
  username: string;
  domain: string;
}

interface Transfer {
  start: number;
  perTick: number;
  tickMs: number;
  stragglers: Set<string>;
  /** Followers removed by ticks so far. */
  ticked: number;
  /** Nobody left to leave (the straggler domains are kept for transferNow). */
  finished: boolean;
  onLeave?: (follower: LeavingFollower) => void;
}

export interface FederationOptions {
  resolveActor?: ResolveActor;
  originOf?: OriginOf;
  clock: () => number;
}

export class Federation {
  private readonly resolvables = new Map<string, Resolvable>();
  private readonly aliases = new Map<string, { acct: string; uri: string }[]>();
  private readonly migrations = new Map<string, MigrationRecord[]>();
  private readonly transfers = new Map<string, Transfer>();
  private readonly keys = new Map<string, string>();
  /** setOrigin() mappings, consulted before the originOf option. */
  private readonly origins = new Map<string, string>();
  private readonly resolver: ResolveActor;
  private readonly clock: () => number;

  constructor(
    private readonly store: Store,
    opts: FederationOptions,
  ) {
    this.clock = opts.clock;
    const originOf = opts.originOf ?? loopbackOriginOf;
    this.resolver =
      opts.resolveActor ??
      httpResolveActor((host) => this.origins.get(host.toLowerCase()) ?? originOf(host));
  }

  /** Fetch https://HOST/… from `origin` (e.g. another sandbox's url); null removes the mapping. */
  setOrigin(host: string, origin: string | null): void {
    const h = z
      .string()
      .regex(/^[a-z0-9.-]+(:\d+)?$/i)
      .parse(host)
      .toLowerCase();
    if (origin === null) this.origins.delete(h);
    else this.origins.set(h, new URL(origin).origin);
  }

  private local(username: string): AccountRow {
    const row = this.store.findByAcct(username);
    if (!row || row.domain !== null) throw new Error(`no local account ${username}`);
    return row;
  }

  // ---- resolving ------------------------------------------------------------------------

  addResolvable(acct: string, opts: ResolvableOptions = {}): void {
    const { username, domain } = acctParts(RemoteAcct.parse(acct));
    if (domain === null || this.store.isLocalDomain(domain)) {
      throw new Error(`${acct} is local; add it with addAccount`);
    }
    const o = ResolvableSchema.parse(opts);
    this.resolvables.set(`${username.toLowerCase()}@${domain}`, { ...o, username, domain });
  }

  private fromRegistry(username: string, domain: string): ResolvedActor | null {
    const r = this.resolvables.get(`${username.toLowerCase()}@${domain}`);
    if (!r) return null;
    const out: ResolvedActor = {
      id: r.uri ?? `https://${domain}/users/${r.username}`,
      acct: `${r.username}@${domain}`,
      alsoKnownAs: r.alsoKnownAs ?? [],
      locked: r.locked ?? false,
      movedTo: r.moved === true ? `${r.username}@moved.${domain}` : r.moved || null,
      displayName: r.displayName ?? "",
      bot: r.bot ?? false,
    };
    if (r.url !== undefined) out.url = r.url;
    if (r.followersCount !== undefined) out.followersCount = r.followersCount;
    if (r.followingCount !== undefined) out.followingCount = r.followingCount;
    return out;
  }

  /** The account with that actor URI, if the store has it. */
  findByUri(uri: string): AccountRow | undefined {
    const local = this.localByUrl(uri);
    if (local) return local;
    for (const a of this.store.accounts.values()) {
      if (a.domain !== null && (this.store.uriOf(a) === uri || a.url === uri)) return a;
    }
    return undefined;
  }

  /** A local account from its actor id or profile URL on this server. */
  localByUrl(uri: string): AccountRow | undefined {
    if (!uri.startsWith(`${this.store.publicBase}/`)) return undefined;
    const path = uri.slice(this.store.publicBase.length);
    const m = /^\/(?:users\/|@)([^/?#]+)$/.exec(path);
    if (!m) return undefined;
    const row = this.store.findByAcct(decodeURIComponent(m[1]!));
    return row?.domain === null ? row : undefined;
  }

  /** The account a movedTo points at: known by URI or acct, else created as a remote account. */
  private movedTarget(ref: string): AccountRow {
    if (/^https?:\/\//i.test(ref)) {
      const known = this.findByUri(ref);
      if (known) return known;
      const u = new URL(ref);
      const username = u.pathname.split("/").filter(Boolean).at(-1) ?? "unknown";
      const existing = this.store.findByAcct(`${username}@${u.host}`);
      if (existing) return existing;
      return this.store.createAccount({ username, domain: u.host.toLowerCase(), uri: ref });
    }
    const { username, domain } = acctParts(ref);
    const existing = this.store.findByAcct(ref.replace(/^@/, ""));
    if (existing) return existing;
    if (domain === null || this.store.isLocalDomain(domain)) {
      throw new Error(`no local account ${username}`);
    }
    return this.store.createAccount({ username, domain });
  }

  /**
   * ResolveAccountService#call(acct, skip_cache:): local accounts from the store; known remote
   * accounts as stored unless skipCache; otherwise WebFinger (registry, then the hook), the
   * stored account created or refreshed from what came back. null: not found.
   */
  async resolveAccount(
    acct: string,
    opts: { skipCache?: boolean } = {},
  ): Promise<AccountRow | null> {
    const stripped = acct.trim().replace(/^@/, "");
    const { username, domain } = acctParts(stripped);
    if (this.store.isLocalDomain(domain)) {
      const row = this.store.findByAcct(username);
      return row?.domain === null ? row : null;
    }
    const known = this.store.findByAcct(stripped);
    if (known && !opts.skipCache) return known;
    let actor: ResolvedActor | null;
    try {
      actor =
        this.fromRegistry(username, domain!) ?? (await this.resolver(`${username}@${domain}`));
    } catch {
      actor = null;
    }
    if (!actor) return null;
    return this.upsertRemote(actor, username, domain!);
  }

  private upsertRemote(actor: ResolvedActor, username: string, domain: string): AccountRow | null {
    const parts = actor.acct ? acctParts(actor.acct) : { username, domain };
    const d = parts.domain ?? domain;
    if (this.store.isLocalDomain(d)) {
      // An actor that turns out to be ours (a loop through originOf): use the local account.
      const own = this.localByUrl(actor.id) ?? this.store.findByAcct(parts.username);
      return own?.domain === null ? own : null;
    }
    const defaultUri = `https://${d}/users/${parts.username}`;
    let row = this.store.findByAcct(`${parts.username}@${d}`) ?? this.findByUri(actor.id);
    if (!row) {
      row = this.store.createAccount({ username: parts.username, domain: d });
    }
    if (row.domain === null) return row;
    row.uri = actor.id === defaultUri ? null : actor.id;
    row.alsoKnownAs = [...actor.alsoKnownAs];
    if (actor.locked !== undefined) row.locked = actor.locked;
    if (actor.displayName !== undefined) row.displayName = actor.displayName;
    if (actor.bot !== undefined) row.bot = actor.bot;
    if (actor.url !== undefined)
      row.url = actor.url === `https://${d}/@${parts.username}` ? null : actor.url;
    if (actor.followersCount !== undefined) row.reportedFollowers = actor.followersCount;
    if (actor.followingCount !== undefined) row.reportedFollowing = actor.followingCount;
    if (actor.movedTo) {
      try {
        const target = this.movedTarget(actor.movedTo);
        row.movedToAccountId = target.id === row.id ? null : target.id;
      } catch {
        // A movedTo naming an account this server can't have: left as it was.
      }
    } else if (actor.movedTo === null) {
      row.movedToAccountId = null;
    }
    return row;
  }

  // ---- aliases and locking --------------------------------------------------------------

  /**
   * AccountAlias#create: the acct is resolved (cached accounts as they are) and its actor URI
   * appended to also_known_as. An http(s) URI is taken as the actor id without resolving.
   * Throws ValidationError: "Acct could not be found", "Acct cannot be current account",
   * "Uri has already been taken".
   */
  async addAlias(username: string, acctOrUri: string): Promise<string[]> {
    const account = this.local(username);
    const value = acctOrUri.trim();
    let acct: string;
    let uri: string | null;
    if (/^https?:\/\//i.test(value)) {
      uri = z.url().parse(value);
      const known = this.findByUri(uri);
      acct = known ? this.store.acctOf(known) : uri;
    } else {
      acct = Acct.parse(value).replace(/^@/, "");
      const target = await this.resolveAccount(acct);
      uri = target ? this.store.uriOf(target) : null;
    }
    const list = this.aliases.get(account.id) ?? [];
    if (uri === null) {
      throw new ValidationError([
        { attribute: "acct", type: "not_found", message: "Acct could not be found" },
      ]);
    }
    if (uri === this.store.uriOf(account)) {
      throw new ValidationError([
        { attribute: "acct", type: "move_to_self", message: "Acct cannot be current account" },
      ]);
    }
    if (list.some((a) => a.uri === uri)) {
      throw new ValidationError([
        { attribute: "uri", type: "taken", message: "Uri has already been taken" },
      ]);
    }
    list.push({ acct, uri });
    this.aliases.set(account.id, list);
    account.alsoKnownAs = [...account.alsoKnownAs, uri];
    return [...account.alsoKnownAs];
  }

  /** AccountAlias#destroy, by the acct it was added with or by URI. */
  removeAlias(username: string, acctOrUri: string): boolean {
    const account = this.local(username);
    const key = acctOrUri.trim().replace(/^@/, "").toLowerCase();
    const list = this.aliases.get(account.id) ?? [];
    const i = list.findIndex((a) => a.acct.toLowerCase() === key || a.uri.toLowerCase() === key);
    let uri: string | undefined;
    if (i !== -1) {
      uri = list[i]!.uri;
      list.splice(i, 1);
    } else {
      uri = account.alsoKnownAs.find((u) => u.toLowerCase() === key);
    }
    if (uri === undefined) return false;
    account.alsoKnownAs = account.alsoKnownAs.filter((u) => u !== uri);
    return true;
  }

  alsoKnownAsOf(username: string): string[] {
    return [...this.local(username).alsoKnownAs];
  }

  setLocked(username: string, locked: boolean): AccountRow {
    const account = this.local(username);
    account.locked = z.boolean().parse(locked);
    return account;
  }

  // ---- the Move -------------------------------------------------------------------------

  migrationsOf(username: string): MigrationRecord[] {
    return [...(this.migrations.get(this.local(username).id) ?? [])];
  }

  /**
   * Settings → Moving to a different account, submitted: AccountMigration's validations on a
   * freshly fetched target (skip_cache), then MoveService. Throws ValidationError with
   * Mastodon's messages (all that apply, cooldown first): "You are on cooldown",
   * "Acct could not be found", "Acct is not an alias of this account",
   * "Acct is the same account you have already moved to", "Acct cannot be current account".
   */
  async performMove(
    username: string,
    targetAcct: string,
    opts: PerformMoveOptions = {},
  ): Promise<AccountRow> {
    const source = this.local(username);
    const acct = Acct.parse(targetAcct).replace(/^@/, "");
    const { onLeave, ...rest } = opts.transfer ?? {};
    const o = PerformMoveSchema.parse({ ...opts, transfer: opts.transfer ? rest : undefined });
    const now = o.at ?? this.clock();

    const errors: ValidationError["errors"] = [];
    const past = this.migrations.get(source.id) ?? [];
    if (past.some((m) => m.at >= now - COOLDOWN_MS)) {
      errors.push({ attribute: "base", type: "on_cooldown", message: "You are on cooldown" });
    }
    const target = await this.resolveAccount(acct, { skipCache: true });
    if (target === null) {
      errors.push({ attribute: "acct", type: "not_found", message: "Acct could not be found" });
    } else {
      if (!target.alsoKnownAs.includes(this.store.uriOf(source))) {
        errors.push({
          attribute: "acct",
          type: "missing_also_known_as",
          message: "Acct is not an alias of this account",
        });
      }
      if (source.movedToAccountId !== null && source.movedToAccountId === target.id) {
        errors.push({
          attribute: "acct",
          type: "already_moved",
          message: "Acct is the same account you have already moved to",
        });
      }
      if (source.id === target.id) {
        errors.push({
          attribute: "acct",
          type: "move_to_self",
          message: "Acct cannot be current account",
        });
      }
    }
    if (errors.length > 0 || target === null) throw new ValidationError(errors);

    past.push({
      acct,
      targetAccountId: target.id,
      at: now,
      followersCount: source.followers.length,
    });
    this.migrations.set(source.id, past);
    // MoveService#update_redirect!
    source.movedToAccountId = target.id;
    // MoveWorker: local followers follow the target (a request when it is remote or locked)
    // and unfollow the source, unless FollowService refuses (the error is swallowed).
    for (const f of [...source.followers]) {
      const follower = this.store.accounts.get(f.accountId);
      if (!follower || follower.domain !== null || follower.id === target.id) continue;
      if (this.followNotAllowed(follower, target)) continue;
      this.store.follow(follower, target, {
        showReblogs: f.showReblogs,
        notify: f.notify,
        languages: f.languages,
        pending: target.domain !== null || target.locked,
      });
      this.store.unfollow(follower, source);
    }
    if (o.transfer) {
      this.transfers.set(source.id, {
        start: now,
        perTick: o.transfer.perTick,
        tickMs: o.transfer.tickMs,
        stragglers: new Set((o.transfer.stragglers ?? []).map((d) => d.toLowerCase())),
        ticked: 0,
        finished: false,
        ...(onLeave ? { onLeave } : {}),
      });
    } else {
      this.transfers.delete(source.id);
    }
    return source;
  }

  private followNotAllowed(follower: AccountRow, target: AccountRow): boolean {
    return (
      target.movedToAccountId !== null ||
      this.store.blockOf(target, follower) !== undefined ||
      this.store.blockOf(follower, target) !== undefined ||
      this.store.domainBlocking(follower, target)
    );
  }

  /** Remote followers that will still leave (not on a straggler domain), oldest follow first. */
  private movable(source: AccountRow, stragglers: ReadonlySet<string>): FollowRow[] {
    return source.followers.filter((f) => {
      const a = this.store.accounts.get(f.accountId);
      return a !== undefined && a.domain !== null && !stragglers.has(a.domain);
    });
  }

  /** An Undo Follow from a follower whose server processed the Move. */
  private leave(source: AccountRow, f: FollowRow, onLeave?: TransferOptions["onLeave"]): void {
    const follower = this.store.accounts.get(f.accountId)!;
    this.store.unfollow(follower, source);
    onLeave?.({
      acct: this.store.acctOf(follower),
      showReblogs: f.showReblogs,
      notify: f.notify,
      languages: f.languages,
    });
  }

  /** Lets the ticks that are due happen (called before every request and in-process read). */
  settle(now = this.clock()): void {
    for (const [accountId, t] of this.transfers) {
      if (t.finished) continue;
      const source = this.store.accounts.get(accountId);
      if (!source) {
        this.transfers.delete(accountId);
        continue;
      }
      const ticks = Math.max(0, Math.floor((now - t.start) / t.tickMs));
      let due = ticks * t.perTick - t.ticked;
      if (due <= 0) continue;
      const queue = this.movable(source, t.stragglers);
      for (const f of queue) {
        if (due <= 0) break;
        this.leave(source, f, t.onLeave);
        t.ticked += 1;
        due -= 1;
      }
      if (this.movable(source, t.stragglers).length === 0) t.finished = true;
    }
  }

  /**
   * n remote followers of a moved account leave now (oldest follow first; straggler domains of
   * a running transfer stay). Returns how many left.
   */
  transferNow(username: string, n: number): number {
    const source = this.local(username);
    if (source.movedToAccountId === null) throw new Error(`${username} has not moved`);
    const count = z.number().int().min(0).parse(n);
    this.settle();
    const t = this.transfers.get(source.id);
    const queue = this.movable(source, t?.stragglers ?? new Set()).slice(0, count);
    for (const f of queue) this.leave(source, f, t?.onLeave);
    return queue.length;
  }

  /** The accts still following the account, oldest follow first. */
  followersOf(username: string): string[] {
    this.settle();
    return this.local(username).followers.map((f) =>
      this.store.acctOf(this.store.accounts.get(f.accountId)!),
    );
  }

  // ---- serving ---------------------------------------------------------------------------

  private publicKeyPem(a: AccountRow): string {
    let pem = this.keys.get(a.id);
    if (!pem) {
      pem = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      }).publicKey;
      this.keys.set(a.id, pem);
    }
    return pem;
  }

  /** ActivityPub::ActorSerializer for a local account. */
  serializeActor(a: AccountRow): Record<string, unknown> {
    const store = this.store;
    const id = store.uriOf(a);
    const v42 = store.atLeast(4, 2);
    const extensions: Record<string, unknown> = {
      manuallyApprovesFollowers: "as:manuallyApprovesFollowers",
      toot: "http://joinmastodon.org/ns#",
      featured: { "@id": "toot:featured", "@type": "@id" },
      featuredTags: { "@id": "toot:featuredTags", "@type": "@id" },
      alsoKnownAs: { "@id": "as:alsoKnownAs", "@type": "@id" },
      movedTo: { "@id": "as:movedTo", "@type": "@id" },
      schema: "http://schema.org#",
      PropertyValue: "schema:PropertyValue",
      value: "schema:value",
      discoverable: "toot:discoverable",
      suspended: "toot:suspended",
      ...(v42 ? { memorial: "toot:memorial", indexable: "toot:indexable" } : {}),
    };
    const moved = a.movedToAccountId ? store.accounts.get(a.movedToAccountId) : undefined;
    const d = a.createdAt;
    const published = new Date(
      Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()),
    ).toISOString();
    return {
      "@context": [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        extensions,
      ],
      id,
      type: a.bot ? "Service" : "Person",
      following: `${id}/following`,
      followers: `${id}/followers`,
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      featured: `${id}/collections/featured`,
      featuredTags: `${id}/collections/tags`,
      preferredUsername: a.username,
      name: a.displayName || a.username,
      summary: a.note,
      url: store.profileUrlOf(a),
      manuallyApprovesFollowers: a.locked,
      discoverable: a.discoverable ?? false,
      ...(v42 ? { indexable: a.indexable } : {}),
      published: published.replace(/\.000Z$/, "Z"),
      ...(v42 ? { memorial: false } : {}),
      ...(moved ? { movedTo: store.uriOf(moved) } : {}),
      ...(a.alsoKnownAs.length > 0 ? { alsoKnownAs: [...a.alsoKnownAs] } : {}),
      publicKey: { id: `${id}#main-key`, owner: id, publicKeyPem: this.publicKeyPem(a) },
      tag: [],
      attachment: [],
      endpoints: { sharedInbox: `${store.publicBase}/inbox` },
    };
  }

  /** WebfingerSerializer */
  serializeJrd(a: AccountRow): Record<string, unknown> {
    const store = this.store;
    const profile = store.profileUrlOf(a);
    const self = store.uriOf(a);
    return {
      subject: `acct:${a.username}@${store.domain}`,
      aliases: [profile, self],
      links: [
        { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: profile },
        { rel: "self", type: "application/activity+json", href: self },
        {
          rel: "http://ostatus.org/schema/1.0/subscribe",
          template: `${store.publicBase}/authorize_interaction?uri={uri}`,
        },
      ],
    };
  }

  /** The federation routes (GET only); null when the path is not one of them. */
  route(req: IncomingMessage, path: string, query: URLSearchParams): Reply | null {
    if (path === "/.well-known/webfinger") return this.webfinger(query);
    const users = /^\/users\/([^/]+)(?:\/(followers|following))?$/.exec(path);
    if (users) {
      const username = decodeURIComponent(users[1]!);
      if (users[2]) {
        return this.collection(req, username, users[2] as "followers" | "following", query);
      }
      if (!wantsActivityJson(req)) {
        // get '/users/:username', to: redirect_with_vary('/@%{username}') for HTML
        return {
          ...redirect(`${this.store.publicBase}/@${username}`, {
            Vary: "Accept, Accept-Language, Cookie",
          }),
          status: 301,
        };
      }
      return this.actor(username);
    }
    const short = /^\/@([^/]+)$/.exec(path);
    if (short) {
      const username = decodeURIComponent(short[1]!);
      if (wantsActivityJson(req)) return this.actor(username);
      return this.profilePage(username);
    }
    return null;
  }

  private findLocal(username: string): AccountRow | undefined {
    if (username.includes("@")) return undefined;
    const row = this.store.findByAcct(username);
    return row?.domain === null ? row : undefined;
  }

  private webfinger(query: URLSearchParams): Reply {
    const head = (status: number): Reply => ({
      status,
      body: "",
      contentType: "text/html",
      headers: { "Cache-Control": "max-age=180, public" },
      api: false,
    });
    const resource = query.get("resource");
    if (resource === null || resource.trim() === "") return head(400);
    let username: string;
    if (/^https?/i.test(resource)) {
      let path: string;
      try {
        path = new URL(resource).pathname;
      } catch {
        return head(404);
      }
      const m = /^\/(?:users\/|@)([^/]+)\/?$/.exec(path);
      if (!m) return head(404);
      username = decodeURIComponent(m[1]!);
    } else if (resource.includes("@")) {
      const parts = resource.replace(/^acct:/, "").split("@");
      const domain = parts.at(-1) ?? "";
      if (!this.store.isLocalDomain(domain.toLowerCase())) return head(404);
      username = parts[0] ?? "";
    } else {
      return head(400);
    }
    const account = this.findLocal(username);
    if (!account) return head(404);
    return {
      status: 200,
      body: JSON.stringify(this.serializeJrd(account)),
      contentType: "application/jrd+json; charset=utf-8",
      headers: { "Cache-Control": "max-age=259200, public" },
      api: false,
    };
  }

  private actor(username: string): Reply {
    const account = this.findLocal(username);
    if (!account) return notFound(true);
    return {
      status: 200,
      body: JSON.stringify(this.serializeActor(account)),
      contentType: AP_TYPE,
      headers: { "Cache-Control": "max-age=180, public", Vary: "Accept, Accept-Language, Cookie" },
      api: false,
    };
  }

  private profilePage(username: string): Reply {
    const account = this.findLocal(username);
    if (!account) return notFound(false);
    const name = escapeHtml(account.displayName || account.username);
    const acct = escapeHtml(`@${account.username}@${this.store.domain}`);
    const moved = account.movedToAccountId
      ? this.store.accounts.get(account.movedToAccountId)
      : undefined;
    const movedNote = moved
      ? `<p class="moved">${name} has indicated that their new account is now <a href="${escapeHtml(this.store.profileUrlOf(moved))}">@${escapeHtml(this.store.acctOf(moved))}</a></p>\n`
      : "";
    return html(
      200,
      `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${name} (${acct}) - Mastodon</title>
<link href="${escapeHtml(this.store.uriOf(account))}" rel="alternate" type="application/activity+json">
</head>
<body>
<h1>${name}</h1>
<p>${acct}</p>
${movedNote}</body>
</html>
`,
      { Vary: "Accept, Accept-Language, Cookie" },
    );
  }

  /** Follower/FollowingAccountsController#index */
  private collection(
    req: IncomingMessage,
    username: string,
    kind: "followers" | "following",
    query: URLSearchParams,
  ): Reply {
    const account = this.findLocal(username);
    if (!account) return notFound(wantsActivityJson(req));
    if (!wantsActivityJson(req)) return this.profilePage(username);
    const id = `${this.store.uriOf(account)}/${kind}`;
    const rows = kind === "followers" ? account.followers : account.following;
    const total = rows.length;
    const pageRaw = query.get("page");
    const ap = (body: Record<string, unknown>, maxAge: number): Reply => ({
      status: 200,
      body: JSON.stringify({ "@context": "https://www.w3.org/ns/activitystreams", ...body }),
      contentType: AP_TYPE,
      headers: { "Cache-Control": maxAge > 0 ? `max-age=${maxAge}, public` : "no-cache" },
      api: false,
    });
    const hidden = account.hideCollections === true;
    if (pageRaw === null || pageRaw.trim() === "") {
      // restrict_fields_to: a hidden collection shows only id, type and totalItems.
      return ap(
        hidden
          ? { id, type: "OrderedCollection", totalItems: total }
          : { id, type: "OrderedCollection", totalItems: total, first: `${id}?page=1` },
        180,
      );
    }
    if (hidden) {
      return {
        status: 403,
        body: JSON.stringify({ error: "Forbidden" }),
        contentType: JSON_TYPE,
        api: false,
      };
    }
    // Kaminari: page.to_i, at least 1; `recent` = newest follow first.
    const page = Math.max(1, Number.parseInt(pageRaw, 10) || 1);
    const totalPages = Math.ceil(total / FOLLOW_PER_PAGE);
    const newestFirst = [...rows].reverse();
    const slice = newestFirst.slice((page - 1) * FOLLOW_PER_PAGE, page * FOLLOW_PER_PAGE);
    const outOfRange = page > totalPages;
    const items = slice.map((f) =>
      this.store.uriOf(
        this.store.accounts.get(kind === "followers" ? f.accountId : f.targetAccountId)!,
      ),
    );
    return ap(
      {
        id: `${id}?page=${pageRaw}`,
        type: "OrderedCollectionPage",
        totalItems: total,
        ...(!outOfRange && page < totalPages ? { next: `${id}?page=${page + 1}` } : {}),
        ...(!outOfRange && page > 1 ? { prev: `${id}?page=${page - 1}` } : {}),
        partOf: id,
        orderedItems: items,
      },
      0,
    );
  }
}

/** Rails' format negotiation as Mastodon registers the ActivityPub types (all :json). */
export function wantsActivityJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return /application\/(activity\+json|ld\+json)/i.test(accept) || wantsJson(req);
}

/** ApplicationController#not_found → respond_with_error(404). */
function notFound(json: boolean): Reply {
  if (json) {
    return {
      status: 404,
      body: JSON.stringify({ error: "Not Found" }),
      contentType: JSON_TYPE,
      api: false,
    };
  }
  return html(404, MASTODON_404_HTML);
}
