/**
 * The /_sandbox endpoints of the Mastodon stand-in (listed in mastodon.ts): each one parses its
 * JSON body and calls the same method of the in-process handle, so a sandbox in another
 * process (mastodon-server.ts) can be driven like one in this process. The shared endpoints
 * (requests, reset-log, latency, fail-next) are the pipeline's.
 */

import { z } from "zod";
import { type ControlRoutes, jsonReply } from "./http-pipeline.js";
import type { MastodonContext } from "./mastodon-context.js";
import type { ResolvableOptions } from "./mastodon-federation.js";
import { ValidationError } from "./mastodon-federation.js";
import { TransferSchema } from "./mastodon-move.js";
import type { OAuthError } from "./mastodon-oauth.js";
import {
  Acct,
  AddAccountSchema,
  BookmarkOptionsSchema,
  Count,
  DomainName,
  FollowOptionsSchema,
  ListOptionsSchema,
  ListTitle,
  MuteOptionsSchema,
  RateLimitSchema,
  RemoteAccountSchema,
  RemoteAcct,
  ScopesSchema,
  SeedOptionsSchema,
  SnapshotSeedSchema,
  StatusUri,
  Username,
} from "./mastodon-schemas.js";
import { FollowLimitSchema } from "./mastodon-target.js";
import type { MastodonSandbox } from "./mastodon-types.js";

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
  authorize: z.object({ username: Username, url: z.string() }),
  list: ListOptionsSchema.extend({
    username: Username,
    title: ListTitle,
    members: z.array(Acct).optional(),
  }),
  block: z.object({ username: Username, acct: Acct }),
  mute: MuteOptionsSchema.extend({ username: Username, acct: Acct }),
  domainBlock: z.object({ username: Username, domain: DomainName }),
  bookmark: BookmarkOptionsSchema.extend({ username: Username, statusUri: StatusUri }),
  snapshot: SnapshotSeedSchema.extend({ username: Username }),
  resolvable: z.looseObject({ acct: RemoteAcct }),
  acceptFollows: z.object({
    follower: Acct.optional(),
    target: Acct.optional(),
    includeLocked: z.boolean().optional(),
  }),
  autoAccept: z.object({ ms: z.number().int().min(0).nullable() }),
  locked: z.object({ username: Username, locked: z.boolean() }),
  alias: z.object({ username: Username, acct: z.string().min(1) }),
  performMove: z.object({
    username: Username,
    target: Acct,
    at: z.number().int().min(0).optional(),
    transfer: TransferSchema.optional(),
  }),
  transfer: z.object({ username: Username, n: Count }),
  origins: z.object({ origins: z.record(z.string(), z.url().nullable()) }),
};

const ok = (body: unknown, status = 200) => jsonReply(status, body);

/** The endpoints, each calling the handle's method of the same name. */
export function mastodonControl(api: MastodonSandbox, ctx: MastodonContext): ControlRoutes {
  return {
    get(path: string, query: URLSearchParams) {
      const username = query.get("username") ?? "";
      switch (path) {
        case "/_sandbox/snapshot":
          return ok(api.snapshotOf(username));
        case "/_sandbox/followers": {
          const followers = api.followersOf(username);
          return ok({ count: followers.length, followers });
        }
        case "/_sandbox":
          return ok({
            url: ctx.url,
            domain: ctx.domain,
            version: ctx.version,
            accounts: ctx.store.accounts.size,
          });
        default:
          return undefined;
      }
    },
    async post(path: string, input: unknown) {
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
        case "/_sandbox/authorize": {
          const { username, url: authorizeUrl } = CONTROL.authorize.parse(input);
          try {
            return ok(api.authorize(username, authorizeUrl));
          } catch (err) {
            const e = (err as { oauth?: OAuthError }).oauth;
            if (e) return ok({ error: e.error, error_description: e.error_description }, 400);
            throw err;
          }
        }
        case "/_sandbox/lists": {
          const { username, title, members, ...o } = CONTROL.list.parse(input);
          return ok(api.addList(username, title, members, o), 201);
        }
        case "/_sandbox/blocks": {
          const { username, acct } = CONTROL.block.parse(input);
          return ok({ id: api.block(username, acct) }, 201);
        }
        case "/_sandbox/mutes": {
          const { username, acct, ...o } = CONTROL.mute.parse(input);
          return ok({ id: api.mute(username, acct, o) }, 201);
        }
        case "/_sandbox/domain-blocks": {
          const { username, domain: d } = CONTROL.domainBlock.parse(input);
          return ok({ id: api.blockDomain(username, d) }, 201);
        }
        case "/_sandbox/bookmarks": {
          const { username, statusUri, ...o } = CONTROL.bookmark.parse(input);
          return ok({ id: api.bookmark(username, statusUri, o) }, 201);
        }
        case "/_sandbox/snapshot": {
          const { username, ...seed } = CONTROL.snapshot.parse(input);
          return ok(api.seedSnapshot(username, seed), 201);
        }
        case "/_sandbox/resolvables": {
          const { acct, ...o } = CONTROL.resolvable.parse(input);
          api.addResolvable(acct, o as ResolvableOptions);
          return ok({}, 201);
        }
        case "/_sandbox/accept-follows":
          return ok({ accepted: api.acceptPendingFollows(CONTROL.acceptFollows.parse(input)) });
        case "/_sandbox/auto-accept":
          api.setAutoAccept(CONTROL.autoAccept.parse(input).ms);
          return ok({});
        case "/_sandbox/follow-limit":
          api.setFollowLimit(FollowLimitSchema.nullable().parse(input));
          return ok({});
        case "/_sandbox/reset-follow-limits":
          api.resetFollowLimits();
          return ok({});
        case "/_sandbox/locked": {
          const { username, locked } = CONTROL.locked.parse(input);
          return ok(api.setLocked(username, locked));
        }
        case "/_sandbox/aliases": {
          const { username, acct } = CONTROL.alias.parse(input);
          return ok({ alsoKnownAs: await api.addAlias(username, acct) }, 201);
        }
        case "/_sandbox/remove-alias": {
          const { username, acct } = CONTROL.alias.parse(input);
          const removed = api.removeAlias(username, acct);
          return ok({ removed, alsoKnownAs: api.alsoKnownAs(username) });
        }
        case "/_sandbox/perform-move": {
          const { username, target: to, ...o } = CONTROL.performMove.parse(input);
          return ok(await api.performMove(username, to, o));
        }
        case "/_sandbox/origins": {
          for (const [host, origin] of Object.entries(CONTROL.origins.parse(input).origins)) {
            api.setOrigin(host, origin);
          }
          return ok({});
        }
        case "/_sandbox/transfer": {
          const { username, n } = CONTROL.transfer.parse(input);
          const moved = api.transferNow(username, n);
          return ok({ moved, remaining: api.followersOf(username).length });
        }
        default:
          return undefined;
      }
    },
    error(err: unknown) {
      if (err instanceof ValidationError) {
        return ok({ error: err.message, errors: err.errors }, 422);
      }
      return undefined;
    },
  };
}
