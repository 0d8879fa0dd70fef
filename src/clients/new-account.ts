/**
 * The new account, whatever server it is on, as the import and the later steps
 * need it. micro.blog and Mastodon-API servers implement it (new-account-*.ts),
 * so no step branches on the kind of server.
 */
import type { FollowRow } from "../model/state.js";

export type FollowResult =
  | { kind: "followed" }
  /** The remote server has yet to accept (locked account, or Mastodon's pending remote follow). */
  | { kind: "requested" }
  | { kind: "already" }
  | { kind: "not-found" }
  /** The server said no for this account (blocked, moved, …); `reason` is its own words. */
  | { kind: "refused"; reason: string };

export interface NewAccount {
  /** ada@micro.blog */
  readonly handle: string;
  /** Lower-cased handles this account already follows. */
  following(): Promise<Set<string>>;
  follow(row: FollowRow): Promise<FollowResult>;
  isFollowing(acct: string): Promise<boolean>;
  /** Where the user uploads following_accounts.csv on the web, for the import they do themselves. */
  readonly webImport: { where: string; url?: string };
}
