/**
 * The /_sandbox endpoints of the micro.blog stand-in (listed in microblog.ts), each calling the
 * seeding method of the same name; the shared ones (requests, reset-log, latency, fail-next)
 * are the pipeline's.
 */

import { z } from "zod";
import type { ControlRoutes, Reply } from "./http-pipeline.js";
import {
  json,
  type MicroblogState,
  RateLimitSchema,
  RemoteHandle,
  RemoteOptionsSchema,
  Username,
  UserSchema,
} from "./microblog-state.js";

const CONTROL = {
  user: UserSchema,
  token: z.object({ username: Username }),
  revoke: z.object({ token: z.string() }),
  fediverse: z.object({ username: Username, handle: z.string() }),
  remote: RemoteOptionsSchema.extend({ handle: RemoteHandle }),
  follow: z.object({ username: Username, handle: z.string() }),
  alias: z.object({ username: Username, actorUri: z.url() }),
};

export function microblogControl(state: MicroblogState): ControlRoutes {
  return {
    get(path: string, query: URLSearchParams): Reply | undefined {
      switch (path) {
        case "/_sandbox":
          return json(200, { url: state.url, domain: state.domain, users: state.users.size });
        case "/_sandbox/verify-count":
          return json(200, { count: state.verifyCount(query.get("token") ?? "") });
        case "/_sandbox/following":
          return json(200, state.followingOf(query.get("username") ?? ""));
        case "/_sandbox/follow-requests":
          return json(200, state.followRequestsOf(query.get("username") ?? ""));
        default:
          return undefined;
      }
    },
    post(path: string, input: unknown): Reply | undefined {
      switch (path) {
        case "/_sandbox/users": {
          const { username, ...o } = CONTROL.user.parse(input);
          return json(201, { username, token: state.addUser(username, o) });
        }
        case "/_sandbox/tokens":
          return json(201, { token: state.issueAppToken(CONTROL.token.parse(input).username) });
        case "/_sandbox/revoke-token":
          return json(200, { revoked: state.revokeAppToken(CONTROL.revoke.parse(input).token) });
        case "/_sandbox/fediverse": {
          const { username, handle } = CONTROL.fediverse.parse(input);
          state.setFediverseUsername(username, handle);
          return json(200, {});
        }
        case "/_sandbox/remotes": {
          const { handle, ...o } = CONTROL.remote.parse(input);
          state.addRemote(handle, o);
          return json(201, {});
        }
        case "/_sandbox/follows": {
          const { username, handle } = CONTROL.follow.parse(input);
          state.follow(username, handle);
          return json(201, {});
        }
        case "/_sandbox/aliases": {
          const { username, actorUri } = CONTROL.alias.parse(input);
          state.addAlias(username, actorUri);
          return json(201, {});
        }
        case "/_sandbox/remove-alias": {
          const { username, actorUri } = CONTROL.alias.parse(input);
          return json(200, { removed: state.removeAlias(username, actorUri) });
        }
        case "/_sandbox/rate-limit":
          state.setRateLimit(RateLimitSchema.nullable().parse(input));
          return json(200, {});
        default:
          return undefined;
      }
    },
  };
}
