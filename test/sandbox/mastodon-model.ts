/**
 * In-memory data of the Mastodon stand-in and the REST serializers
 * (REST::AccountSerializer, REST::CredentialAccountSerializer, REST::RelationshipSerializer).
 */

import { randomBytes } from "node:crypto";

export interface AccountRow {
  /** Snowflake-style id, as Mastodon gives accounts (`timestamp_id`): ms << 16 | sequence. */
  id: string;
  username: string;
  /** null for a local account. */
  domain: string | null;
  displayName: string;
  note: string;
  locked: boolean;
  bot: boolean;
  discoverable: boolean | null;
  indexable: boolean;
  hideCollections: boolean | null;
  createdAt: Date;
  movedToAccountId: string | null;
  /** Remote accounts: the totals the remote actor reported (copied on fetch, not counted here). */
  reportedFollowers: number;
  reportedFollowing: number;
  statusesCount: number;
  /** Follow rows where this account is the follower, ascending by id. */
  following: FollowRow[];
  /** Follow rows where this account is the target, ascending by id. */
  followers: FollowRow[];
}

export interface FollowRow {
  /** bigserial id of the Follow (or FollowRequest) record: the pagination cursor. */
  id: number;
  accountId: string;
  targetAccountId: string;
  showReblogs: boolean;
  notify: boolean;
  languages: string[] | null;
  createdAt: Date;
}

export interface TokenRow {
  id: number;
  token: string;
  accountId: string;
  scopes: string[];
  revoked: boolean;
}

/** Mastodon's Account entity, as served. */
export interface MastodonAccount {
  id: string;
  username: string;
  acct: string;
  display_name: string;
  locked: boolean;
  bot: boolean;
  discoverable: boolean | null;
  indexable?: boolean;
  group: boolean;
  created_at: string;
  note: string;
  url: string;
  uri: string;
  avatar: string;
  avatar_static: string;
  header: string;
  header_static: string;
  followers_count: number;
  following_count: number;
  statuses_count: number;
  last_status_at: string | null;
  hide_collections?: boolean | null;
  noindex?: boolean;
  emojis: unknown[];
  roles?: unknown[];
  fields: { name: string; value: string; verified_at: string | null }[];
  moved?: MastodonAccount | null;
}

export interface MastodonCredentialAccount extends MastodonAccount {
  source: {
    privacy: string;
    sensitive: boolean;
    language: string | null;
    note: string;
    fields: { name: string; value: string; verified_at: string | null }[];
    follow_requests_count: number;
    hide_collections?: boolean | null;
    discoverable?: boolean | null;
    indexable?: boolean;
  };
  role: { id: string; name: string; permissions: string; color: string; highlighted: boolean };
}

export interface MastodonRelationship {
  id: string;
  following: boolean;
  showing_reblogs: boolean;
  notifying: boolean;
  languages?: string[] | null;
  followed_by: boolean;
  blocking: boolean;
  blocked_by: boolean;
  muting: boolean;
  muting_notifications: boolean;
  requested: boolean;
  requested_by?: boolean;
  domain_blocking: boolean;
  endorsed: boolean;
  note: string;
}

/** "4.3.2", "4.2.10+glitch", "4.4.0-beta.1" → [4, 3, 2] */
export function parseVersion(version: string): [number, number, number] {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version);
  return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0), Number(m?.[3] ?? 0)];
}

/** Ruby's String#to_i: leading whitespace, optional sign, digits (underscores allowed); else 0. */
export function rubyToI(value: string): bigint {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)/.exec(value);
  if (!m) return 0n;
  const n = BigInt(m[2]!.replaceAll("_", ""));
  return m[1] === "-" ? -n : n;
}

export function acctParts(acct: string): { username: string; domain: string | null } {
  const stripped = acct.trim().replace(/^@/, "");
  const at = stripped.indexOf("@");
  if (at === -1) return { username: stripped, domain: null };
  return { username: stripped.slice(0, at), domain: stripped.slice(at + 1).toLowerCase() };
}

export class Store {
  readonly accounts = new Map<string, AccountRow>();
  private readonly byAcct = new Map<string, AccountRow>();
  readonly follows = new Map<string, FollowRow>();
  readonly requests = new Map<string, FollowRow>();
  readonly tokens = new Map<string, TokenRow>();
  private lastMs = 0;
  private seq = 0;
  private nextFollowId = 104_729;
  private nextTokenId = 1;

  constructor(
    /** LOCAL_DOMAIN */
    readonly domain: string,
    /** Base of local URLs (https://domain, or http://127.0.0.1:PORT for the default domain). */
    readonly publicBase: string,
    readonly version: [number, number, number],
  ) {}

  atLeast(major: number, minor: number): boolean {
    const [a, b] = this.version;
    return a > major || (a === major && b >= minor);
  }

  private snowflake(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.seq = Number.parseInt(randomBytes(1).toString("hex"), 16);
    } else {
      this.seq += 1;
      if (this.seq > 0xffff) {
        this.lastMs += 1;
        this.seq = 0;
      }
    }
    return ((BigInt(this.lastMs) << 16n) | BigInt(this.seq)).toString();
  }

  isLocalDomain(domain: string | null): boolean {
    return domain === null || domain === this.domain.toLowerCase();
  }

  private key(username: string, domain: string | null): string {
    return `${username.toLowerCase()}@${this.isLocalDomain(domain) ? "" : domain}`;
  }

  /** Account.find_local / find_remote: case-insensitive. */
  findByAcct(acct: string): AccountRow | undefined {
    const { username, domain } = acctParts(acct);
    return this.byAcct.get(this.key(username, domain));
  }

  /** Account.find(params[:id]) with Rails' integer casting ("12abc" → 12, "abc" → 0). */
  findById(raw: string): AccountRow | undefined {
    return this.accounts.get(rubyToI(raw).toString());
  }

  createAccount(
    fields: Partial<Omit<AccountRow, "id" | "following" | "followers">> & {
      username: string;
      domain: string | null;
    },
  ): AccountRow {
    const domain = this.isLocalDomain(fields.domain) ? null : fields.domain;
    const key = this.key(fields.username, domain);
    if (this.byAcct.has(key)) {
      throw new Error(`account ${fields.username}${domain ? `@${domain}` : ""} already exists`);
    }
    const row: AccountRow = {
      displayName: "",
      note: "",
      locked: false,
      bot: false,
      discoverable: domain === null ? false : null,
      indexable: false,
      hideCollections: domain === null ? false : null,
      createdAt: new Date(),
      movedToAccountId: null,
      reportedFollowers: 0,
      reportedFollowing: 0,
      statusesCount: 0,
      ...fields,
      domain,
      id: this.snowflake(),
      following: [],
      followers: [],
    };
    this.accounts.set(row.id, row);
    this.byAcct.set(key, row);
    return row;
  }

  private pairKey(a: string, b: string): string {
    return `${a}>${b}`;
  }

  follow(
    follower: AccountRow,
    target: AccountRow,
    opts: {
      showReblogs?: boolean;
      notify?: boolean;
      languages?: string[] | null;
      pending?: boolean;
    },
  ): FollowRow {
    const key = this.pairKey(follower.id, target.id);
    const existing = this.follows.get(key) ?? this.requests.get(key);
    if (existing) {
      // POST /follow on an existing follow updates its options in place.
      if (opts.showReblogs !== undefined) existing.showReblogs = opts.showReblogs;
      if (opts.notify !== undefined) existing.notify = opts.notify;
      if (opts.languages !== undefined) existing.languages = opts.languages;
      return existing;
    }
    const row: FollowRow = {
      id: this.nextFollowId++,
      accountId: follower.id,
      targetAccountId: target.id,
      showReblogs: opts.showReblogs ?? true,
      notify: opts.notify ?? false,
      languages: opts.languages && opts.languages.length > 0 ? opts.languages : null,
      createdAt: new Date(),
    };
    if (opts.pending) {
      this.requests.set(key, row);
    } else {
      this.follows.set(key, row);
      follower.following.push(row);
      target.followers.push(row);
    }
    return row;
  }

  /** Removes a follow or a pending request (e.g. an Undo Follow arriving after a Move). */
  unfollow(follower: AccountRow, target: AccountRow): boolean {
    const key = this.pairKey(follower.id, target.id);
    if (this.requests.delete(key)) return true;
    const row = this.follows.get(key);
    if (!row) return false;
    this.follows.delete(key);
    follower.following.splice(follower.following.indexOf(row), 1);
    target.followers.splice(target.followers.indexOf(row), 1);
    return true;
  }

  followOf(a: AccountRow, b: AccountRow): FollowRow | undefined {
    return this.follows.get(this.pairKey(a.id, b.id));
  }

  requestOf(a: AccountRow, b: AccountRow): FollowRow | undefined {
    return this.requests.get(this.pairKey(a.id, b.id));
  }

  pendingRequestsTo(a: AccountRow): number {
    let n = 0;
    for (const r of this.requests.values()) if (r.targetAccountId === a.id) n++;
    return n;
  }

  issueToken(account: AccountRow, scopes: string[]): TokenRow {
    // Doorkeeper's default generator: 32 random bytes, urlsafe base64 → 43 characters.
    const row: TokenRow = {
      id: this.nextTokenId++,
      token: randomBytes(32).toString("base64url"),
      accountId: account.id,
      scopes,
      revoked: false,
    };
    this.tokens.set(row.token, row);
    return row;
  }

  // ---- serializers ------------------------------------------------------------------

  acctOf(a: AccountRow): string {
    return a.domain === null ? a.username : `${a.username}@${a.domain}`;
  }

  serializeAccount(a: AccountRow, nested = false): MastodonAccount {
    const local = a.domain === null;
    const base = local ? this.publicBase : `https://${a.domain}`;
    const missingAvatar = `${this.publicBase}/avatars/original/missing.png`;
    const missingHeader = `${this.publicBase}/headers/original/missing.png`;
    // Attribute order as REST::AccountSerializer writes it; version-gated keys as added upstream.
    const out: MastodonAccount = {
      id: a.id,
      username: a.username,
      acct: this.acctOf(a),
      display_name: a.displayName,
      locked: a.locked,
      bot: a.bot,
      discoverable: a.discoverable,
      ...(this.atLeast(4, 2) ? { indexable: a.indexable } : {}),
      group: false,
      created_at: midnight(a.createdAt),
      note: a.note,
      url: `${base}/@${a.username}`,
      uri: `${base}/users/${a.username}`,
      avatar: missingAvatar,
      avatar_static: missingAvatar,
      header: missingHeader,
      header_static: missingHeader,
      followers_count: local ? a.followers.length : a.reportedFollowers,
      following_count: local ? a.following.length : a.reportedFollowing,
      statuses_count: a.statusesCount,
      last_status_at: null,
      ...(this.atLeast(4, 1) ? { hide_collections: a.hideCollections } : {}),
      ...(local ? { noindex: false } : {}),
      emojis: [],
      ...(local && this.atLeast(4, 1) ? { roles: [] } : {}),
      fields: [],
    };
    // has_one :moved_to_account, key: :moved, if: :moved_and_not_nested? — absent unless moved.
    if (!nested && a.movedToAccountId !== null) {
      const target = this.accounts.get(a.movedToAccountId);
      out.moved = target ? this.serializeAccount(target, true) : null;
    }
    return out;
  }

  serializeCredentialAccount(a: AccountRow): MastodonCredentialAccount {
    const source: MastodonCredentialAccount["source"] = {
      privacy: "public",
      sensitive: false,
      language: null,
      note: a.note.replace(/<[^>]*>/g, ""),
      fields: [],
      follow_requests_count: Math.min(this.pendingRequestsTo(a), 40),
    };
    if (this.atLeast(4, 2)) {
      source.hide_collections = a.hideCollections;
      source.discoverable = a.discoverable;
      source.indexable = a.indexable;
    }
    return {
      ...this.serializeAccount(a),
      source,
      role: { id: "-99", name: "", permissions: "65536", color: "", highlighted: false },
    };
  }

  serializeRelationship(me: AccountRow, other: AccountRow): MastodonRelationship {
    const following = this.followOf(me, other);
    const requested = this.requestOf(me, other);
    const opts = following ?? requested;
    // Key order as REST::RelationshipSerializer writes it.
    return {
      id: other.id,
      following: following !== undefined,
      showing_reblogs: opts?.showReblogs ?? false,
      notifying: opts?.notify ?? false,
      ...(this.atLeast(4, 0) ? { languages: opts?.languages ?? null } : {}),
      followed_by: this.followOf(other, me) !== undefined,
      blocking: false,
      blocked_by: false,
      muting: false,
      muting_notifications: false,
      requested: requested !== undefined,
      ...(this.atLeast(4, 1) ? { requested_by: this.requestOf(other, me) !== undefined } : {}),
      domain_blocking: false,
      endorsed: false,
      note: "",
    };
  }
}

/** `object.created_at.midnight.as_json` */
function midnight(d: Date): string {
  const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  return m.toISOString();
}
