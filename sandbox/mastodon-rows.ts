/**
 * The Mastodon stand-in's tables, one interface per ActiveRecord model it keeps
 * (Account, Follow, Doorkeeper's tokens, apps and grants, Block, Mute, AccountDomainBlock,
 * List, ListAccount, Status, Bookmark), and the Ruby/Rails conversions their columns go through.
 */

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
  /**
   * Account#also_known_as: actor URIs. Local accounts: what their aliases added; remote
   * accounts: the actor's `alsoKnownAs` when it was last fetched.
   */
  alsoKnownAs: string[];
  /** Remote accounts: the actor id when it isn't https://domain/users/username (e.g. micro.blog's). */
  uri: string | null;
  /** Remote accounts: the profile URL when it isn't https://domain/@username. */
  url: string | null;
  /** Remote accounts: the totals the remote actor reported (copied on fetch, not counted here). */
  reportedFollowers: number;
  reportedFollowing: number;
  statusesCount: number;
  /** Follow rows where this account is the follower, ascending by id. */
  following: FollowRow[];
  /** Follow rows where this account is the target, ascending by id. */
  followers: FollowRow[];
  /** Block rows this account made, ascending by id. */
  blocks: BlockRow[];
  /** Mute rows this account made, ascending by id. */
  mutes: MuteRow[];
  /** AccountDomainBlock rows, ascending by id. */
  domainBlocks: DomainBlockRow[];
  /** Lists this account owns, ascending by id. */
  lists: ListRow[];
  /** Bookmark rows, ascending by id. */
  bookmarks: BookmarkRow[];
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
  /** The resource owner; null for a client_credentials (app-only) token. */
  accountId: string | null;
  /** Doorkeeper application; the built-in "Web" app for tokens made by issueToken(). */
  applicationId: number | null;
  scopes: string[];
  revoked: boolean;
  /** ms since epoch (sandbox clock) */
  createdAt: number;
}

/** Doorkeeper::Application as Mastodon configures it (always confidential). */
export interface AppRow {
  id: number;
  name: string;
  website: string | null;
  /** As stored: newline-separated when given as an array. */
  redirectUri: string;
  scopes: string[];
  uid: string;
  secret: string;
  superapp: boolean;
  createdAt: number;
}

/** Doorkeeper::AccessGrant (an authorization code). */
export interface GrantRow {
  id: number;
  token: string;
  applicationId: number;
  accountId: string;
  redirectUri: string;
  scopes: string[];
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  /** ms since epoch (sandbox clock) */
  createdAt: number;
  expiresInSeconds: number;
  revoked: boolean;
}

export interface BlockRow {
  id: number;
  accountId: string;
  targetAccountId: string;
}

export interface MuteRow {
  id: number;
  accountId: string;
  targetAccountId: string;
  hideNotifications: boolean;
  /** ms since epoch, or null for an indefinite mute */
  expiresAt: number | null;
}

export interface DomainBlockRow {
  id: number;
  accountId: string;
  domain: string;
}

export interface ListMemberRow {
  id: number;
  listId: number;
  accountId: string;
  followId: number;
}

export interface ListRow {
  id: number;
  accountId: string;
  title: string;
  repliesPolicy: "followed" | "list" | "none";
  exclusive: boolean;
  /** ListAccount rows in insertion order. */
  members: ListMemberRow[];
}

export interface StatusRow {
  /** Snowflake id */
  id: string;
  accountId: string;
  uri: string;
  url: string | null;
  content: string;
  createdAt: Date;
  visibility: "public" | "unlisted" | "private" | "direct";
  language: string | null;
}

export interface BookmarkRow {
  id: number;
  accountId: string;
  statusId: string;
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
