/**
 * micro.blog as the new account. Its follow takes no options (no boosts or
 * notify settings exist there), and one call to /users/following replaces a
 * call to is_following per account, which keeps the shared limit for follows.
 *
 * micro.blog's own users are named in a follows list by their Fediverse username
 * and in micro.blog's API by their bare username (microblog-names.ts): `bob@micro.blog`
 * is followed as `bob`; one on a blog's own domain (`hello@bob.example`), which
 * micro.blog can't find by that name, is looked up on the Fediverse and followed by
 * the micro.blog username its actor is served under.
 */

import type { FollowRow } from "../model/state.js";
import { RemoteError } from "../net/errors.js";
import type { FediverseClient } from "./fediverse.js";
import type { MicroblogClient } from "./microblog.js";
import {
  apiName,
  followedOnMicroblog,
  isMicroblogUsername,
  microblogUsernameOf,
} from "./microblog-names.js";
import {
  type Followed,
  type FollowResult,
  type NewAccount,
  TokenRejectedError,
} from "./new-account.js";

export interface MicroblogAccountDeps {
  client: MicroblogClient;
  /** WebFinger and actors, to tell micro.blog's own users on their blogs' domains. */
  fediverse: FediverseClient;
  /** micro.blog's domain (micro.blog; the stand-in's in tests). */
  domain: string;
}

export class MicroblogAccount implements NewAccount {
  readonly webImport = { where: "micro.blog → Account → View Fediverse Details → Import Follows" };
  private readonly client: MicroblogClient;

  constructor(
    private readonly deps: MicroblogAccountDeps,
    private readonly token: string,
    private readonly username: string,
    readonly handle: string,
  ) {
    this.client = deps.client;
  }

  async following(): Promise<Followed> {
    return followedOnMicroblog(
      await this.client.following(this.token, this.username),
      this.deps.domain,
    );
  }

  lanes(): number {
    return this.client.lanes() + 1;
  }

  isFollowing(acct: string): Promise<boolean> {
    return this.client.isFollowing(this.token, apiName(acct, this.deps.domain));
  }

  async follow(row: FollowRow): Promise<FollowResult> {
    const name = apiName(row.acct, this.deps.domain);
    let outcome = await this.client.follow(this.token, name);
    if (outcome.kind === "not-found" && !isMicroblogUsername(name)) {
      const own = await this.ownUserNamed(name);
      if (own) outcome = await this.client.follow(this.token, own);
    }
    switch (outcome.kind) {
      case "followed":
        return { kind: "followed" };
      case "not-found":
        return { kind: "not-found" };
      case "refused":
        // A 403 that isn't the limit: this follow, or the token? Ask once.
        if (!(await this.client.tokenWorks(this.token, this.username))) {
          throw new TokenRejectedError(this.client.host, outcome.status, outcome.detail, {
            method: "POST",
            path: "/users/follow",
          });
        }
        return { kind: "refused", reason: outcome.detail || `HTTP ${outcome.status}` };
    }
  }

  /**
   * The micro.blog username behind a Fediverse handle micro.blog itself serves (a blog's
   * own domain), or null: not one of micro.blog's, or not to be found just now.
   */
  private async ownUserNamed(handle: string): Promise<string | null> {
    try {
      const actor = await this.deps.fediverse.actorOf(handle);
      return microblogUsernameOf(actor?.followers, this.deps.domain);
    } catch (err) {
      if (err instanceof RemoteError || err instanceof RangeError) return null;
      throw err;
    }
  }
}
