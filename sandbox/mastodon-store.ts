/**
 * The Mastodon stand-in's data in memory: every table, the id sequences, and the writes
 * Mastodon's services make (follow, unfollow, FollowRequest#authorize!, BlockService,
 * Account#mute!, block_domain!, lists, statuses, bookmarks, Doorkeeper's records).
 */

import { randomBytes } from "node:crypto";
import {
  type AccountRow,
  type AppRow,
  acctParts,
  type BlockRow,
  type BookmarkRow,
  type DomainBlockRow,
  type FollowRow,
  type GrantRow,
  type ListMemberRow,
  type ListRow,
  type MuteRow,
  rubyToI,
  type StatusRow,
  type TokenRow,
} from "./mastodon-rows.js";

export class Store {
  readonly accounts = new Map<string, AccountRow>();
  private readonly byAcct = new Map<string, AccountRow>();
  readonly follows = new Map<string, FollowRow>();
  readonly requests = new Map<string, FollowRow>();
  readonly tokens = new Map<string, TokenRow>();
  private readonly revokedListeners: ((token: TokenRow) => void)[] = [];
  readonly apps = new Map<number, AppRow>();
  readonly appsByUid = new Map<string, AppRow>();
  readonly grants = new Map<string, GrantRow>();
  readonly statuses = new Map<string, StatusRow>();
  readonly statusesByUri = new Map<string, StatusRow>();
  readonly lists = new Map<number, ListRow>();
  private readonly blocksByPair = new Map<string, BlockRow>();
  private readonly mutesByPair = new Map<string, MuteRow>();
  private readonly bookmarksByPair = new Map<string, BookmarkRow>();
  private lastMs = 0;

  /**
   * Revokes a token, and tells who listens: Doorkeeper::AccessToken's after_commit
   * `push_to_streaming_api` publishes `{event: :kill}` on `timeline:access_token:<id>`, and the
   * streaming server closes that token's connections at once (app/lib/access_token_extension.rb;
   * streaming/index.js, subscribeWebsocketToSystemChannel → onKill → websocket.close()).
   */
  revokeToken(token: TokenRow): void {
    token.revoked = true;
    for (const listener of this.revokedListeners) listener(token);
  }

  onTokenRevoked(listener: (token: TokenRow) => void): void {
    this.revokedListeners.push(listener);
  }
  private seq = 0;
  private nextFollowId = 104_729;
  private nextTokenId = 1;
  private nextAppId = 1;
  private nextGrantId = 1;
  // Each table has its own bigserial; the offsets only make mix-ups visible in tests.
  private nextBlockId = 310_001;
  private nextMuteId = 420_001;
  private nextDomainBlockId = 530_001;
  private nextBookmarkId = 640_001;
  private nextListId = 7_001;
  private nextListMemberId = 810_001;
  /** The "Web" superapp every Mastodon has; tokens from issueToken() belong to it. */
  readonly webApp: AppRow;

  constructor(
    /** LOCAL_DOMAIN */
    readonly domain: string,
    /** Base of local URLs (https://domain, or http://127.0.0.1:PORT for the default domain). */
    readonly publicBase: string,
    readonly version: [number, number, number],
    /** The sandbox clock (ms since epoch). */
    readonly clock: () => number = Date.now,
  ) {
    this.webApp = this.createApp({
      name: "Web",
      website: null,
      redirectUri: "urn:ietf:wg:oauth:2.0:oob",
      scopes: ["read", "write", "follow", "push"],
      superapp: true,
    });
  }

  atLeast(major: number, minor: number, patch = 0): boolean {
    const [a, b, c] = this.version;
    if (a !== major) return a > major;
    if (b !== minor) return b > minor;
    return c >= patch;
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

  /** The local account with that username; throws when there is none. */
  local(username: string): AccountRow {
    const row = this.findByAcct(username);
    if (!row || row.domain !== null) throw new Error(`no local account ${username}`);
    return row;
  }

  /** Account.find(params[:id]) with Rails' integer casting ("12abc" → 12, "abc" → 0). */
  findById(raw: string): AccountRow | undefined {
    return this.accounts.get(rubyToI(raw).toString());
  }

  createAccount(
    fields: Partial<
      Omit<
        AccountRow,
        | "id"
        | "following"
        | "followers"
        | "blocks"
        | "mutes"
        | "domainBlocks"
        | "lists"
        | "bookmarks"
      >
    > & {
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
      alsoKnownAs: [],
      uri: null,
      url: null,
      reportedFollowers: 0,
      reportedFollowing: 0,
      statusesCount: 0,
      ...fields,
      domain,
      id: this.snowflake(),
      following: [],
      followers: [],
      blocks: [],
      mutes: [],
      domainBlocks: [],
      lists: [],
      bookmarks: [],
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
    // ListAccount belongs_to :follow, dependent: :destroy
    for (const list of follower.lists) {
      const i = list.members.findIndex((m) => m.followId === row.id);
      if (i !== -1) list.members.splice(i, 1);
    }
    return true;
  }

  /**
   * FollowRequest#authorize!: the request becomes a Follow (a new record, so a new id) with
   * the same options. Returns the Follow, or undefined when there was no such request.
   */
  acceptRequest(follower: AccountRow, target: AccountRow): FollowRow | undefined {
    const key = this.pairKey(follower.id, target.id);
    const request = this.requests.get(key);
    if (!request) return undefined;
    this.requests.delete(key);
    return this.follow(follower, target, {
      showReblogs: request.showReblogs,
      notify: request.notify,
      languages: request.languages,
    });
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

  issueToken(account: AccountRow | null, scopes: string[], app: AppRow = this.webApp): TokenRow {
    // Doorkeeper's default generator: 32 random bytes, urlsafe base64 → 43 characters.
    const row: TokenRow = {
      id: this.nextTokenId++,
      token: randomBytes(32).toString("base64url"),
      accountId: account?.id ?? null,
      applicationId: app.id,
      scopes,
      revoked: false,
      createdAt: this.clock(),
    };
    this.tokens.set(row.token, row);
    return row;
  }

  createApp(fields: Omit<AppRow, "id" | "uid" | "secret" | "createdAt">): AppRow {
    const row: AppRow = {
      ...fields,
      id: this.nextAppId++,
      uid: randomBytes(32).toString("base64url"),
      secret: randomBytes(32).toString("base64url"),
      createdAt: this.clock(),
    };
    this.apps.set(row.id, row);
    this.appsByUid.set(row.uid, row);
    return row;
  }

  /**
   * Vacuum::AccessTokensVacuum then Vacuum::ApplicationsVacuum, in Scheduler::VacuumScheduler's
   * order (Mastodon 4.2): revoked tokens and revoked or expired grants go first, then every
   * app `where(owner_id: nil).where.missing(:created_users, :access_tokens, :access_grants)
   * .where(created_at: ...1.day.ago)` (app/lib/vacuum/applications_vacuum.rb). Only a deleted
   * app's dead tokens and grants are dropped here, so other revoked tokens keep their
   * "was revoked" answer. Apps made here have no owner; the built-in Web app is never idle on
   * a real server and is kept.
   */
  vacuumApplications(now: number): void {
    const DAY = 24 * 60 * 60 * 1000;
    const live = new Set<number>();
    for (const t of this.tokens.values()) {
      if (!t.revoked && t.applicationId !== null) live.add(t.applicationId);
    }
    for (const g of this.grants.values()) {
      if (!g.revoked && now <= g.createdAt + g.expiresInSeconds * 1000) live.add(g.applicationId);
    }
    const gone = new Set<number>();
    for (const app of this.apps.values()) {
      if (app.superapp || live.has(app.id) || app.createdAt >= now - DAY) continue;
      gone.add(app.id);
      this.appsByUid.delete(app.uid);
    }
    if (gone.size === 0) return;
    for (const id of gone) this.apps.delete(id);
    for (const [key, t] of this.tokens) {
      if (t.applicationId !== null && gone.has(t.applicationId)) this.tokens.delete(key);
    }
    for (const [key, g] of this.grants) if (gone.has(g.applicationId)) this.grants.delete(key);
  }

  createGrant(fields: Omit<GrantRow, "id" | "token" | "createdAt" | "revoked">): GrantRow {
    const row: GrantRow = {
      ...fields,
      id: this.nextGrantId++,
      token: randomBytes(32).toString("base64url"),
      createdAt: this.clock(),
      revoked: false,
    };
    this.grants.set(row.token, row);
    return row;
  }

  // ---- blocks, mutes, domain blocks, lists, bookmarks -----------------------------

  /** BlockService: also removes follows and follow requests in both directions. */
  block(account: AccountRow, target: AccountRow): BlockRow {
    const key = this.pairKey(account.id, target.id);
    const existing = this.blocksByPair.get(key);
    if (existing) return existing;
    this.unfollow(account, target);
    this.unfollow(target, account);
    const row: BlockRow = {
      id: this.nextBlockId++,
      accountId: account.id,
      targetAccountId: target.id,
    };
    this.blocksByPair.set(key, row);
    account.blocks.push(row);
    return row;
  }

  blockOf(a: AccountRow, b: AccountRow): BlockRow | undefined {
    return this.blocksByPair.get(this.pairKey(a.id, b.id));
  }

  /** Account#mute!: an existing mute is updated in place (same id). */
  mute(
    account: AccountRow,
    target: AccountRow,
    hideNotifications: boolean,
    expiresAt: number | null,
  ): MuteRow {
    const key = this.pairKey(account.id, target.id);
    const existing = this.mutesByPair.get(key);
    if (existing) {
      existing.hideNotifications = hideNotifications;
      existing.expiresAt = expiresAt;
      return existing;
    }
    const row: MuteRow = {
      id: this.nextMuteId++,
      accountId: account.id,
      targetAccountId: target.id,
      hideNotifications,
      expiresAt,
    };
    this.mutesByPair.set(key, row);
    account.mutes.push(row);
    return row;
  }

  muteOf(a: AccountRow, b: AccountRow): MuteRow | undefined {
    const row = this.mutesByPair.get(this.pairKey(a.id, b.id));
    return row && (row.expiresAt === null || row.expiresAt > this.clock()) ? row : undefined;
  }

  /**
   * Account#block_domain! plus AfterBlockDomainFromAccountService: follows to and from
   * accounts on that domain and pending requests from it are removed.
   */
  blockDomain(account: AccountRow, domain: string): DomainBlockRow {
    const normalized = domain.toLowerCase();
    const existing = account.domainBlocks.find((d) => d.domain === normalized);
    if (existing) return existing;
    const row: DomainBlockRow = {
      id: this.nextDomainBlockId++,
      accountId: account.id,
      domain: normalized,
    };
    account.domainBlocks.push(row);
    for (const f of [...account.following]) {
      const t = this.accounts.get(f.targetAccountId);
      if (t?.domain === normalized) this.unfollow(account, t);
    }
    for (const f of [...account.followers]) {
      const a = this.accounts.get(f.accountId);
      if (a?.domain === normalized) this.unfollow(a, account);
    }
    for (const r of [...this.requests.values()]) {
      const a = this.accounts.get(r.accountId);
      if (r.targetAccountId === account.id && a?.domain === normalized) this.unfollow(a, account);
    }
    return row;
  }

  domainBlocking(a: AccountRow, b: AccountRow): boolean {
    return b.domain !== null && a.domainBlocks.some((d) => d.domain === b.domain);
  }

  createList(
    account: AccountRow,
    title: string,
    repliesPolicy: ListRow["repliesPolicy"],
    exclusive: boolean,
  ): ListRow {
    const row: ListRow = {
      id: this.nextListId++,
      accountId: account.id,
      title,
      repliesPolicy,
      exclusive,
      members: [],
    };
    account.lists.push(row);
    this.lists.set(row.id, row);
    return row;
  }

  /** ListAccount: the owner must follow the member (the row belongs to the Follow). */
  addListMember(list: ListRow, member: AccountRow): ListMemberRow {
    const owner = this.accounts.get(list.accountId)!;
    const follow = this.followOf(owner, member);
    if (!follow) throw new Error(`${this.acctOf(owner)} does not follow ${this.acctOf(member)}`);
    const existing = list.members.find((m) => m.accountId === member.id);
    if (existing) return existing;
    const row: ListMemberRow = {
      id: this.nextListMemberId++,
      listId: list.id,
      accountId: member.id,
      followId: follow.id,
    };
    list.members.push(row);
    return row;
  }

  createStatus(fields: Omit<StatusRow, "id">): StatusRow {
    if (this.statusesByUri.has(fields.uri)) throw new Error(`status ${fields.uri} already exists`);
    const row: StatusRow = { ...fields, id: this.snowflake() };
    this.statuses.set(row.id, row);
    this.statusesByUri.set(row.uri, row);
    const author = this.accounts.get(row.accountId);
    if (author?.domain === null) author.statusesCount += 1;
    return row;
  }

  bookmark(account: AccountRow, status: StatusRow): BookmarkRow {
    const key = this.pairKey(account.id, status.id);
    const existing = this.bookmarksByPair.get(key);
    if (existing) return existing;
    const row: BookmarkRow = {
      id: this.nextBookmarkId++,
      accountId: account.id,
      statusId: status.id,
    };
    this.bookmarksByPair.set(key, row);
    account.bookmarks.push(row);
    return row;
  }

  /** ActivityPub::TagManager#uri_for / url_for a local status. */
  localStatusUri(author: AccountRow, id: string): string {
    return `${this.publicBase}/users/${author.username}/statuses/${id}`;
  }

  /** Whether the account bookmarked the status. */
  bookmarked(account: AccountRow, status: StatusRow): boolean {
    return this.bookmarksByPair.has(this.pairKey(account.id, status.id));
  }

  // ---- names and URLs -------------------------------------------------------------------

  acctOf(a: AccountRow): string {
    return a.domain === null ? a.username : `${a.username}@${a.domain}`;
  }

  /** ActivityPub::TagManager#uri_for an account: its actor id. */
  uriOf(a: AccountRow): string {
    if (a.domain === null) return `${this.publicBase}/users/${a.username}`;
    return a.uri ?? `https://${a.domain}/users/${a.username}`;
  }

  /** The account's profile page (REST `url`). */
  profileUrlOf(a: AccountRow): string {
    if (a.domain === null) return `${this.publicBase}/@${a.username}`;
    return a.url ?? `https://${a.domain}/@${a.username}`;
  }
}
