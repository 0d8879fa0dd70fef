/**
 * Mastodon's routes table for the stand-in: which module answers a request, in the order
 * Rails would match them, and the OAuth endpoints (app registration, Doorkeeper's token,
 * revoke and authorize, the discovery document). Anything else is Mastodon's catch-all 404.
 */

import {
  type ApiRequest,
  authorizeIfGotToken,
  currentAccount,
  doorkeeperAuthorize,
  requireUser,
} from "./mastodon-auth.js";
import type { MastodonContext } from "./mastodon-context.js";
import { apiJson, internalError, type Reply, routingError } from "./mastodon-http.js";
import { signInRedirect } from "./mastodon-oauth.js";
import { appOfToken, registerApp, serializeApp } from "./mastodon-oauth-apps.js";
import { accountsRoute } from "./mastodon-routes-accounts.js";
import { dmRoute } from "./mastodon-routes-dm.js";
import { instanceRoute } from "./mastodon-routes-instance.js";
import { snapshotRoute } from "./mastodon-snapshot.js";
import { successHeaders } from "./mastodon-throttle.js";

const baseUrl = (r: ApiRequest): string => `http://${r.host}`;

/** Routes that take a body: app registration and Doorkeeper's endpoints. */
function routeWrite(ctx: MastodonContext, r: ApiRequest, method: string): Reply {
  const { path, params } = r;
  const authorization = r.req.headers.authorization;
  if (method === "POST" && path === "/api/v1/apps") return registerApp(ctx.store, params);
  if (method === "POST" && path === "/oauth/token") return ctx.oauth.token(authorization, params);
  if (method === "POST" && path === "/oauth/revoke") {
    return ctx.oauth.revoke(authorization, params);
  }
  // Authorize / Deny need the signed-in browser session the stand-in doesn't have.
  if ((method === "POST" || method === "DELETE") && path === "/oauth/authorize") {
    return signInRedirect(baseUrl(r));
  }
  return routingError(r.req);
}

/** The OAuth pages and app routes read with GET; null when the path is not one of them. */
function routeOAuthRead(ctx: MastodonContext, r: ApiRequest): Reply | null {
  const { store, oauth } = ctx;
  const { path } = r;
  if (path === "/oauth/authorize") return oauth.authorizePage(r.params);
  if (path === "/oauth/authorize/native") return oauth.nativePage(r.params);
  if (path === "/.well-known/oauth-authorization-server" && store.atLeast(4, 3)) {
    return oauth.metadata(baseUrl(r));
  }
  if (path === "/api/v1/apps/verify_credentials") {
    // 4.3 accepts any valid token; before, `doorkeeper_authorize! :read`.
    const denied = store.atLeast(4, 3)
      ? doorkeeperAuthorize(r, [])
      : doorkeeperAuthorize(r, ["read"]);
    if (denied) return denied;
    const app = appOfToken(store, r.token!);
    return app ? apiJson(200, serializeApp(store, app, false)) : internalError(r.req);
  }
  return null;
}

/**
 * Api::BaseController's `before_action :require_authenticated_user!, if:
 * :disallow_unauthenticated_api_access?` (DISALLOW_UNAUTHENTICATED_API_ACCESS, or limited
 * federation mode): before any controller's own checks, an API call without a user's live token
 * is 401. In limited federation mode Api::BaseController also keeps ApplicationController's
 * `require_functional!` (`skip_before_action :require_functional!, unless:
 * :limited_federation_mode?`), which runs first: a signed-in user who isn't functional — a
 * moved account (User#functional?) — gets 403 on every call. `require_not_suspended!` checks
 * only suspension, so with DISALLOW_UNAUTHENTICATED_API_ACCESS alone a moved account's token
 * still reads public data. InstancesController and the app registration skip these
 * (apis.md, "Harsh modes" 8).
 */
function closedApiRefusal(ctx: MastodonContext, r: ApiRequest, method: string): Reply | null {
  if (ctx.closedApi === false || !r.path.startsWith("/api/")) return null;
  if (/^\/api\/v[12]\/instance(\/|$)/.test(r.path)) return null;
  if (method === "POST" && r.path === "/api/v1/apps") return null;
  const me = currentAccount(ctx.store, r);
  if (ctx.closedApi === "limited-federation" && me && me.movedToAccountId !== null) {
    return apiJson(403, { error: "Your login is currently disabled" });
  }
  if (me) return null;
  return apiJson(401, { error: "This API requires an authenticated user" });
}

export function route(ctx: MastodonContext, r: ApiRequest, method: string): Reply | Promise<Reply> {
  const { store } = ctx;
  const { path, query } = r;
  const closed = closedApiRefusal(ctx, r, method);
  if (closed) return closed;
  const targetReply = ctx.target.route(
    {
      req: r.req,
      path,
      query,
      params: r.params,
      authorize: (scopes) => doorkeeperAuthorize(r, scopes),
      authorizeIfGotToken: (scopes) => authorizeIfGotToken(r, scopes),
      requireUser: () => requireUser(store, r),
      currentAccount: () => currentAccount(store, r),
      rackHeaders: successHeaders(r.throttle, r.nowMs),
      nowMs: r.nowMs,
    },
    method,
  );
  if (targetReply) return targetReply;
  const dmReply = dmRoute(ctx, r, method);
  if (dmReply) return dmReply;
  if (method !== "GET") return routeWrite(ctx, r, method);
  return (
    ctx.activityPub.route(r.req, path, query) ??
    routeOAuthRead(ctx, r) ??
    snapshotRoute(store, path, {
      query,
      baseUrl: baseUrl(r),
      user: (scopes) =>
        doorkeeperAuthorize(r, scopes) ?? requireUser(store, r) ?? currentAccount(store, r)!,
      internalError: () => internalError(r.req),
    }) ??
    accountsRoute(store, r) ??
    instanceRoute(ctx, path, r.host) ??
    routingError(r.req)
  );
}
