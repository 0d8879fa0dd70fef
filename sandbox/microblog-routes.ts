/**
 * micro.blog's JSON API in the stand-in, and its routes table:
 *
 *   POST /account/verify          token=… → the user, or 200 {"error":"App token was not valid."}
 *   GET  /posts/:user             a user's JSON Feed (public; a presented token must be valid)
 *   GET  /users/following/:user   the accounts a micro.blog user follows        (Bearer)
 *   GET  /users/is_following      username=…                                    (Bearer)
 *   POST /users/follow            username=…                                    (Bearer)
 *   POST /users/unfollow          username=…                                    (Bearer)
 *
 * plus the Fediverse side (microblog-fediverse.ts); anything else is nginx's 404 page. The
 * answers that are guesses (see microblog.ts) are the ones hardest on a client.
 */

import type { IncomingMessage } from "node:http";
import type { Reply } from "./http-pipeline.js";
import { fediverseRoute } from "./microblog-fediverse.js";
import {
  type Account,
  errorReply,
  json,
  type MicroblogState,
  notFoundPage,
  type TokenRow,
  type User,
} from "./microblog-state.js";

const TOKEN_INVALID = { error: "App token was not valid." };

/** `Authorization: Bearer T`, or `Token T` as the macOS app sends it. */
export function tokenString(req: IncomingMessage): string | null {
  const m = /^(?:Bearer|Token)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m ? m[1]! : null;
}

/** Rails reads params from the query and a form or JSON body; the body wins. */
export function readParams(
  req: IncomingMessage,
  body: Buffer,
  query: URLSearchParams,
): Map<string, string> {
  const params = new Map(query);
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  if (body.length === 0) return params;
  if (type.startsWith("application/x-www-form-urlencoded")) {
    for (const [k, v] of new URLSearchParams(body.toString("utf8"))) params.set(k, v);
  } else if (/^application\/(.+\+)?json/.test(type)) {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    if (parsed && typeof parsed === "object") {
      for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") params.set(k, v);
    }
  }
  return params;
}

function verify(state: MicroblogState, params: Map<string, string>): Reply {
  const row = state.validToken(params.get("token") ?? null);
  if (!row) return json(200, TOKEN_INVALID);
  state.verified(row);
  const { user } = row;
  return json(200, {
    token: params.get("token"),
    name: user.name,
    username: user.username,
    avatar: `${state.base}/${user.username}/avatar.jpg`,
    default_site: new URL(state.blogOf(user)).host,
    expires_at: row.expiresAt === null ? null : new Date(row.expiresAt).toISOString(),
  });
}

function feed(state: MicroblogState, a: Account, viewer: User | null): Reply {
  const p = state.profile(a, viewer);
  return json(200, {
    version: "https://jsonfeed.org/version/1",
    title: p.name,
    home_page_url: p.url,
    feed_url: `${state.base}/posts/${p.username}`,
    author: { name: p.name, url: p.url, avatar: p.avatar },
    _microblog: {
      username: p.username,
      bio: "",
      is_following: p.is_following,
      is_you: p.is_you,
      ...(p.is_you && a.kind === "user" ? { following_count: a.user.following.size } : {}),
      discover_count: 0,
    },
    items: [],
  });
}

/** The Bearer API: following/:user, is_following, follow, unfollow. */
function bearerApi(
  state: MicroblogState,
  path: string,
  params: Map<string, string>,
  me: User,
): Reply {
  const following = /^\/users\/following\/([^/]+)$/.exec(path);
  if (following) {
    const a = state.lookup(following[1]!);
    if (a?.kind !== "user") return state.notFound(following[1]!);
    const list = [...a.user.following.values()].map((h) => {
      const target = state.lookup(h);
      return target ? state.profile(target, me) : null;
    });
    return json(
      200,
      list.filter((p) => p !== null),
    );
  }

  const username = params.get("username");
  if (!username) return json(400, { error: "Missing username parameter." });
  const target = state.lookup(username);
  if (!target) return state.notFound(username);
  const key = state.handleOf(target).toLowerCase();
  const isYou = target.kind === "user" && target.user === me;
  switch (path) {
    case "/users/is_following":
      return json(200, { is_following: me.following.has(key), is_you: isYou });
    case "/users/follow":
      if (target.kind === "remote" && target.remote.refuseFollow)
        return errorReply(target.remote.refuseFollow);
      if (!isYou) {
        me.following.set(key, state.handleOf(target));
        me.followRequests.set(key, (me.followRequests.get(key) ?? 0) + 1);
      }
      return json(200, {});
    default:
      me.following.delete(key);
      return json(200, {});
  }
}

export interface MicroblogRequest {
  req: IncomingMessage;
  method: string;
  path: string;
  query: URLSearchParams;
  params: Map<string, string>;
  /** The valid token presented, if any. */
  token: TokenRow | null;
}

export function route(state: MicroblogState, r: MicroblogRequest): Reply {
  const { req, method, path, token } = r;
  if (method === "POST" && path === "/account/verify") return verify(state, r.params);

  if (method === "GET") {
    const fediverse = fediverseRoute(state, req, path, r.query);
    if (fediverse) return fediverse;
    const posts = /^\/posts\/([^/]+)$/.exec(path);
    if (posts) {
      // Public, but a token that is presented must be valid.
      if (req.headers.authorization !== undefined && !token)
        return json(state.badTokenStatus, { error: "Not authorized." });
      const a = state.lookup(posts[1]!);
      return a ? feed(state, a, token?.user ?? null) : state.notFound(posts[1]!);
    }
  }

  const isApi =
    (method === "POST" && (path === "/users/follow" || path === "/users/unfollow")) ||
    (method === "GET" && (path === "/users/is_following" || path.startsWith("/users/following/")));
  if (!isApi) return notFoundPage();
  if (!token) return json(state.badTokenStatus, { error: "Not authorized." });
  return bearerApi(state, path, r.params, token.user);
}
