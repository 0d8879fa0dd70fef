/**
 * The new account, whatever server it is on, as the import and the later steps
 * need it. micro.blog and Mastodon-API servers implement it (new-account-*.ts),
 * so no step branches on the kind of server.
 */
import type { FollowRow } from "../model/state.js";
import { RejectedError, type RemoteErrorOptions } from "../net/errors.js";

export type FollowResult =
  | { kind: "followed" }
  /** The remote server has yet to accept (locked account, or Mastodon's pending remote follow). */
  | { kind: "requested" }
  | { kind: "already" }
  | { kind: "not-found" }
  /** The server said no for this account (blocked, moved, …); `reason` is its own words. */
  | { kind: "refused"; reason: string };

/** Whom the account follows, asked by a handle (`user@host`) as a follows list names it. */
export interface Followed {
  has(acct: string): boolean;
}

/**
 * The new server no longer takes the token the bot holds (deleted, expired, revoked): nothing
 * works for this user until they give a new one. The server's own status and words are kept.
 */
export class TokenRejectedError extends RejectedError {
  constructor(host: string, status: number, detail: string, options?: RemoteErrorOptions) {
    super(`${host} no longer accepts the token`, host, status, detail, options);
  }
}

export interface NewAccount {
  /** ada@micro.blog */
  readonly handle: string;
  /** Whom this account already follows. */
  following(): Promise<Followed>;
  follow(row: FollowRow): Promise<FollowResult>;
  isFollowing(acct: string): Promise<boolean>;
  /**
   * How many follows may be on their way at once (a server that limits per address and
   * refuses after the fact: its pacer's ⌈R·c⌉ lanes, and one waiting); absent, one.
   */
  lanes?(): number;
  /**
   * The account's own follower count, read with its token (a closed API doesn't matter);
   * absent where the server's API offers none (micro.blog's shows no follower count).
   */
  followersCount?(): Promise<number>;
  /** Where the user uploads following_accounts.csv on the web, for the import they do themselves. */
  readonly webImport: { where: string; url?: string };
}
