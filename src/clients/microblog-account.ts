/**
 * micro.blog as the new account. Its follow takes no options (no boosts or
 * notify settings exist there), and one call to /users/following replaces a
 * call to is_following per account, which keeps the shared limit for follows.
 */

import { normalHandle } from "../model/handle.js";
import type { FollowRow } from "../model/state.js";
import type { MicroblogClient } from "./microblog.js";
import type { FollowResult, NewAccount } from "./new-account.js";

export class MicroblogAccount implements NewAccount {
  readonly webImport = { where: "micro.blog → Account → View Fediverse Details → Import Follows" };

  constructor(
    private readonly client: MicroblogClient,
    private readonly token: string,
    private readonly username: string,
    readonly handle: string,
  ) {}

  following(): Promise<Set<string>> {
    return this.client.following(this.token, this.username);
  }

  isFollowing(acct: string): Promise<boolean> {
    return this.client.isFollowing(this.token, normalHandle(acct));
  }

  async follow(row: FollowRow): Promise<FollowResult> {
    const result = await this.client.follow(this.token, normalHandle(row.acct));
    return result === "followed" ? { kind: "followed" } : { kind: "not-found" };
  }
}
