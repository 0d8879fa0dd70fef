/**
 * One Mastodon API request as the routes see it, and the checks Mastodon's controllers run
 * before acting: Doorkeeper finding the token, doorkeeper_authorize!, authorize_if_got_token!,
 * require_user! and current_account, with the statuses and bodies Mastodon renders.
 */

import type { IncomingMessage } from "node:http";
import { apiJson, type Params, type Reply } from "./mastodon-http.js";
import type { AccountRow, TokenRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";
import type { ThrottleOutcome } from "./mastodon-throttle.js";

export interface ApiRequest {
  req: IncomingMessage;
  path: string;
  query: URLSearchParams;
  /** request.parameters: query merged with the parsed body. */
  params: Params;
  /** Doorkeeper::OAuth::Token.authenticate: the row for a known token string, even if revoked. */
  token: TokenRow | null;
  host: string;
  /** Rack::Attack's data for this request and the time it was checked at. */
  throttle: ThrottleOutcome | null;
  nowMs: number;
}

/** Doorkeeper access_token_methods: from_bearer_authorization, from_access_token_param, from_bearer_param */
export function tokenString(req: IncomingMessage, query: URLSearchParams): string | null {
  const header = req.headers.authorization;
  if (header && /^Bearer /i.test(header)) return header.replace(/^Bearer /i, "");
  return query.get("access_token") || query.get("bearer_token") || null;
}

/** doorkeeper_authorize!(*scopes) with Mastodon's render options. */
export function doorkeeperAuthorize(r: ApiRequest, scopes: string[]): Reply | null {
  const token = r.token;
  if (token === null || token.revoked) {
    const description = token?.revoked
      ? "The access token was revoked"
      : "The access token is invalid";
    return apiJson(
      401,
      { error: description },
      {
        "WWW-Authenticate": `Bearer realm="Doorkeeper", error="invalid_token", error_description="${description}"`,
      },
    );
  }
  if (scopes.length > 0 && !scopes.some((s) => token.scopes.includes(s))) {
    return apiJson(
      403,
      { error: "This action is outside the authorized scopes" },
      { "WWW-Authenticate": 'Bearer realm="Doorkeeper", error="insufficient_scope"' },
    );
  }
  return null;
}

/** authorize_if_got_token!: only when Doorkeeper found a token (unknown strings are ignored). */
export function authorizeIfGotToken(r: ApiRequest, scopes: string[]): Reply | null {
  return r.token === null ? null : doorkeeperAuthorize(r, scopes);
}

/** Api::BaseController#require_user! — User#functional? is false once the account has moved. */
export function requireUser(store: Store, r: ApiRequest): Reply | null {
  const id = r.token?.accountId;
  const me = id ? store.accounts.get(id) : undefined;
  if (!me) return apiJson(422, { error: "This method requires an authenticated user" });
  if (me.movedToAccountId !== null) {
    return apiJson(403, { error: "Your login is currently disabled" });
  }
  return null;
}

/** current_account: the owner of a valid token. */
export function currentAccount(store: Store, r: ApiRequest): AccountRow | undefined {
  return r.token && !r.token.revoked && r.token.accountId !== null
    ? store.accounts.get(r.token.accountId)
    : undefined;
}
