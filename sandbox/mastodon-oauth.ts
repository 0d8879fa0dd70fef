/**
 * OAuth for the Mastodon stand-in: Doorkeeper as Mastodon configures it
 * (config/initializers/doorkeeper.rb), per version:
 *
 * - < 4.3: Doorkeeper 5.6.6, no PKCE columns (code_challenge is ignored everywhere), the
 *   authorize error page is rendered with status 200, no discovery document, no `profile`.
 * - 4.3.x: Doorkeeper 5.7.1, PKCE with `plain` or `S256`, error pages 400 (401 for an
 *   unknown client), discovery document advertising S256 only.
 * - ≥ 4.4: Doorkeeper 5.8, `pkce_code_challenge_methods ['S256']` (plain is refused),
 *   `client_secret_expires_at` in app registration.
 * - 4.2.0–4.2.8 also ran Vacuum::ApplicationsVacuum daily: apps with no live token or code,
 *   over a day old, are deleted and their client_id answers invalid_client (the
 *   `applicationsVacuum` option, Store#vacuumApplications; removed in 4.2.9, mastodon#30316).
 *
 * Mastodon's settings that matter: default scope `read`, `enforce_configured_scopes`,
 * `reuse_access_token`, access tokens that never expire, codes that expire after 10 minutes,
 * grant flows authorization_code, password and client_credentials, every client
 * confidential, `forbid_redirect_uri` for data:, vbscript: and javascript:.
 *
 * This module is the authorization flow (/oauth/authorize, /oauth/token, /oauth/revoke, the
 * discovery document); app registration is in mastodon-oauth-apps.ts, the scopes in
 * mastodon-oauth-scopes.ts, the URI checks in mastodon-oauth-uri.ts.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import {
  blank,
  html,
  type Params,
  plainJson,
  type Reply,
  redirect,
  scalarParam,
} from "./mastodon-http.js";
import {
  sameScopes,
  scopesFromString,
  scopesValid,
  serverScopes,
} from "./mastodon-oauth-scopes.js";
import { OOB_URIS, uriWith, validForAuthorization, wwwFormEscape } from "./mastodon-oauth-uri.js";
import { oauthCodePage, oauthConsentPage, oauthErrorPage } from "./mastodon-pages.js";
import type { AccountRow, AppRow, GrantRow, TokenRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

/** Doorkeeper's en.yml, with Mastodon's override of invalid_redirect_uri. */
const DESCRIPTIONS: Record<string, string> = {
  invalid_request:
    "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.",
  invalid_redirect_uri: "The redirect uri included is not valid.",
  unauthorized_client: "The client is not authorized to perform this request using this method.",
  access_denied: "The resource owner or authorization server denied the request.",
  invalid_scope: "The requested scope is invalid, unknown, or malformed.",
  invalid_code_challenge_method: "The code challenge method must be plain or S256.",
  server_error:
    "The authorization server encountered an unexpected condition which prevented it from fulfilling the request.",
  unsupported_response_type: "The authorization server does not support this response type.",
  unsupported_response_mode: "The authorization server does not support this response mode.",
  invalid_client:
    "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
  invalid_grant:
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
  unsupported_grant_type:
    "The authorization grant type is not supported by the authorization server.",
};

export const REVOKE_UNAUTHORIZED = "You are not authorized to revoke this token";

export interface OAuthError {
  error: string;
  error_description: string;
  /** The HTTP status Doorkeeper gives it (ErrorResponse#status). */
  status: number;
}

function oauthError(name: string, missingParam?: string, description?: string): OAuthError {
  return {
    error: name,
    error_description:
      description ??
      (missingParam !== undefined
        ? `Missing required parameter: ${missingParam}.`
        : (DESCRIPTIONS[name] ?? DESCRIPTIONS.server_error!)),
    status: name === "invalid_client" || name === "unauthorized_client" ? 401 : 400,
  };
}

// ---- the provider -------------------------------------------------------------------

export interface PreAuthorization {
  app: AppRow;
  redirectUri: string;
  responseType: string;
  responseMode: "query" | "fragment" | "form_post";
  scope: string;
  scopes: string[];
  state: string | null;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
}

export interface AuthorizeResult {
  /** The authorization code (Doorkeeper::AccessGrant#token). */
  code: string;
  /** Where Mastodon sends the browser: redirect_uri?code=…&state=…, or /oauth/authorize/native?code=… for OOB. */
  redirectTo: string;
  oob: boolean;
  state: string | null;
  responseMode: "query" | "fragment" | "form_post";
}

const AUTHORIZE_CACHE = { "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate" };
const TOKEN_HEADERS = { "Cache-Control": "no-store, no-cache" };

export class OAuthProvider {
  constructor(private readonly store: Store) {}

  get pkceSupported(): boolean {
    return this.store.atLeast(4, 3);
  }

  get pkceMethods(): string[] {
    return this.store.atLeast(4, 4) ? ["S256"] : ["plain", "S256"];
  }

  get scopes(): string[] {
    return serverScopes(this.store);
  }

  // ---- /oauth/authorize -------------------------------------------------------------

  /** Doorkeeper::OAuth::PreAuthorization#validate, in its order. */
  preAuthorize(params: Params): PreAuthorization | OAuthError {
    const clientId = scalarParam(params, "client_id");
    if (blank(clientId)) return oauthError("invalid_request", "client_id");
    const app = this.store.appsByUid.get(clientId!);
    if (!app) return oauthError("invalid_client");
    const redirectUri = scalarParam(params, "redirect_uri");
    if (blank(redirectUri) || !validForAuthorization(redirectUri!, app.redirectUri)) {
      return oauthError("invalid_redirect_uri");
    }
    const responseType = scalarParam(params, "response_type");
    if (blank(responseType)) return oauthError("invalid_request", "response_type");
    if (responseType !== "code") return oauthError("unsupported_response_type");
    const mode = scalarParam(params, "response_mode");
    let responseMode: PreAuthorization["responseMode"] = "query";
    if (!blank(mode)) {
      if (mode !== "query" && mode !== "fragment" && mode !== "form_post") {
        return oauthError("unsupported_response_mode");
      }
      responseMode = mode;
    }
    const rawScope = scalarParam(params, "scope");
    // @scope.presence || build_scopes (default scopes ∩ the app's)
    const scope = !blank(rawScope)
      ? rawScope!
      : app.scopes.length === 0
        ? "read"
        : ["read"].filter((s) => app.scopes.includes(s)).join(" ");
    if (!scopesValid(scope, this.scopes, app.scopes)) return oauthError("invalid_scope");
    let codeChallenge: string | null = null;
    let codeChallengeMethod: string | null = null;
    if (this.pkceSupported) {
      codeChallenge = scalarParam(params, "code_challenge") ?? null;
      codeChallengeMethod = scalarParam(params, "code_challenge_method") ?? null;
      if (
        !blank(codeChallenge) &&
        (blank(codeChallengeMethod) || !this.pkceMethods.includes(codeChallengeMethod!))
      ) {
        return oauthError(
          "invalid_code_challenge_method",
          undefined,
          this.store.atLeast(4, 4)
            ? `The code_challenge_method must be ${this.pkceMethods.join(", ")}.`
            : undefined,
        );
      }
    }
    return {
      app,
      redirectUri: redirectUri!,
      responseType: responseType!,
      responseMode,
      scope,
      scopes: scopesFromString(scope),
      state: scalarParam(params, "state") ?? null,
      codeChallenge,
      codeChallengeMethod,
    };
  }

  /** GET /oauth/authorize for a signed-in user: the consent page, or Doorkeeper's error page. */
  authorizePage(params: Params): Reply {
    const pre = this.preAuthorize(params);
    if ("error" in pre) {
      // Doorkeeper < 5.6.7 rendered the error view without a status.
      const status = this.store.atLeast(4, 3) ? pre.status : 200;
      return html(status, oauthErrorPage(pre.error_description), AUTHORIZE_CACHE);
    }
    return html(
      200,
      oauthConsentPage({
        clientName: pre.app.name,
        clientId: pre.app.uid,
        redirectUri: pre.redirectUri,
        state: pre.state,
        responseType: pre.responseType,
        scope: pre.scope,
        codeChallenge: pre.codeChallenge,
        codeChallengeMethod: pre.codeChallengeMethod,
        scopes: pre.scopes,
      }),
      AUTHORIZE_CACHE,
    );
  }

  /** POST /oauth/authorize as `account` ("Authorize" clicked): a grant and where to go next. */
  approve(account: AccountRow, params: Params, baseUrl: string): AuthorizeResult | OAuthError {
    const pre = this.preAuthorize(params);
    if ("error" in pre) return pre;
    const grant = this.store.createGrant({
      applicationId: pre.app.id,
      accountId: account.id,
      redirectUri: pre.redirectUri,
      scopes: pre.scopes,
      codeChallenge: blank(pre.codeChallenge) ? null : pre.codeChallenge,
      codeChallengeMethod: blank(pre.codeChallenge) ? null : pre.codeChallengeMethod,
      expiresInSeconds: 600,
    });
    const oob = OOB_URIS.includes(pre.redirectUri);
    const redirectTo = oob
      ? `${baseUrl}/oauth/authorize/native?code=${wwwFormEscape(grant.token)}`
      : pre.responseMode === "form_post"
        ? pre.redirectUri
        : uriWith(
            pre.redirectUri,
            { code: grant.token, state: pre.state },
            pre.responseMode === "fragment",
          );
    return { code: grant.token, redirectTo, oob, state: pre.state, responseMode: pre.responseMode };
  }

  /** GET /oauth/authorize/native?code=…: shows whatever code it is given. */
  nativePage(params: Params): Reply {
    return html(200, oauthCodePage(scalarParam(params, "code") ?? ""), AUTHORIZE_CACHE);
  }

  // ---- /oauth/token, /oauth/revoke --------------------------------------------------

  /** Doorkeeper's client_credentials :from_basic, :from_params, then by_uid_and_secret. */
  private authenticateClient(authorization: string | undefined, params: Params): AppRow | null {
    let uid: string | undefined;
    let secret: string | undefined;
    const basic = authorization ? /^Basic (.*)/s.exec(authorization) : null;
    if (basic) {
      const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      uid = colon === -1 ? decoded : decoded.slice(0, colon);
      secret = colon === -1 ? undefined : decoded.slice(colon + 1);
    }
    if (blank(uid)) {
      uid = scalarParam(params, "client_id");
      secret = scalarParam(params, "client_secret");
    }
    if (blank(uid)) return null;
    const app = this.store.appsByUid.get(uid!);
    if (!app || secret === undefined) return null;
    const a = Buffer.from(secret);
    const b = Buffer.from(app.secret);
    return a.length === b.length && timingSafeEqual(a, b) ? app : null;
  }

  private tokenError(e: OAuthError): Reply {
    return plainJson(
      e.status,
      { error: e.error, error_description: e.error_description },
      {
        ...TOKEN_HEADERS,
        "WWW-Authenticate": `Bearer realm="Doorkeeper", error="${e.error}", error_description="${e.error_description}"`,
      },
    );
  }

  private grantAccessible(grant: GrantRow): boolean {
    return !grant.revoked && this.store.clock() <= grant.createdAt + grant.expiresInSeconds * 1000;
  }

  /** AccessToken.find_or_create_for with reuse_access_token (tokens never expire in Mastodon). */
  private findOrCreateToken(app: AppRow, account: AccountRow | null, scopes: string[]): TokenRow {
    let match: TokenRow | undefined;
    for (const t of this.store.tokens.values()) {
      if (t.revoked || t.applicationId !== app.id || t.accountId !== (account?.id ?? null))
        continue;
      const both = t.scopes.length === 0 && scopes.length === 0;
      if (
        !both &&
        !(sameScopes(t.scopes, scopes) && scopesValid(scopes.join(" "), this.scopes, app.scopes))
      )
        continue;
      if (!match || t.createdAt >= match.createdAt) match = t;
    }
    return match ?? this.store.issueToken(account, scopes, app);
  }

  private tokenResponse(token: TokenRow): Reply {
    return plainJson(
      200,
      {
        access_token: token.token,
        token_type: "Bearer",
        ...(token.scopes.length > 0 ? { scope: token.scopes.join(" ") } : {}),
        created_at: Math.floor(token.createdAt / 1000),
      },
      { ...TOKEN_HEADERS, ...(this.store.atLeast(4, 4) ? { Pragma: "no-cache" } : {}) },
    );
  }

  /** POST /oauth/token */
  token(authorization: string | undefined, params: Params): Reply {
    const grantType = scalarParam(params, "grant_type");
    if (blank(grantType)) return this.tokenError(oauthError("invalid_request", "grant_type"));
    switch (grantType) {
      case "authorization_code":
        return this.authorizationCodeGrant(authorization, params);
      case "client_credentials": {
        const app = this.authenticateClient(authorization, params);
        if (!app) return this.tokenError(oauthError("invalid_client"));
        const requested = scalarParam(params, "scope");
        const scopes = !blank(requested)
          ? scopesFromString(requested)
          : app.scopes.length === 0
            ? ["read"]
            : ["read"].filter((s) => app.scopes.includes(s));
        const ok =
          (scopes.length === 0 && app.scopes.length === 0) ||
          scopesValid(scopes.join(" "), this.scopes, app.scopes);
        if (!ok) return this.tokenError(oauthError("invalid_scope"));
        return this.tokenResponse(this.findOrCreateToken(app, null, scopes));
      }
      case "password": {
        // The stand-in's users have no e-mail address or password to sign in with.
        const app = this.authenticateClient(authorization, params);
        if (!app) return this.tokenError(oauthError("invalid_client"));
        return this.tokenError(oauthError("invalid_grant"));
      }
      default:
        return this.tokenError(oauthError("unsupported_grant_type"));
    }
  }

  /** Doorkeeper::OAuth::AuthorizationCodeRequest: params, client, grant, redirect_uri, code_verifier. */
  private authorizationCodeGrant(authorization: string | undefined, params: Params): Reply {
    const code = scalarParam(params, "code");
    if (blank(code)) return this.tokenError(oauthError("invalid_request", "code"));
    const grant = this.store.grants.get(code!);
    const app = this.authenticateClient(authorization, params);
    const redirectUri = scalarParam(params, "redirect_uri");
    const verifier = scalarParam(params, "code_verifier");
    const usesPkce = this.pkceSupported && grant !== undefined && !blank(grant.codeChallenge);
    if (usesPkce && blank(verifier)) {
      return this.tokenError(oauthError("invalid_request", "code_verifier"));
    }
    if (blank(redirectUri)) return this.tokenError(oauthError("invalid_request", "redirect_uri"));
    if (!app) return this.tokenError(oauthError("invalid_client"));
    if (!grant || grant.applicationId !== app.id || !this.grantAccessible(grant)) {
      return this.tokenError(oauthError("invalid_grant"));
    }
    if (!validForAuthorization(redirectUri!, grant.redirectUri)) {
      return this.tokenError(oauthError("invalid_grant"));
    }
    if (this.pkceSupported) {
      let ok: boolean;
      if (blank(verifier)) ok = blank(grant.codeChallenge);
      else if (grant.codeChallengeMethod === "S256") {
        ok = createHash("sha256").update(verifier!).digest("base64url") === grant.codeChallenge;
      } else if (grant.codeChallengeMethod === "plain") ok = grant.codeChallenge === verifier;
      else ok = false;
      if (!ok) return this.tokenError(oauthError("invalid_grant"));
    }
    grant.revoked = true;
    const account = this.store.accounts.get(grant.accountId) ?? null;
    return this.tokenResponse(this.findOrCreateToken(app, account, grant.scopes));
  }

  /** POST /oauth/revoke (RFC 7009 as Doorkeeper does it). */
  revoke(authorization: string | undefined, params: Params): Reply {
    const denied = plainJson(403, {
      error: "unauthorized_client",
      error_description: REVOKE_UNAUTHORIZED,
    });
    const app = this.authenticateClient(authorization, params);
    if (!app) return denied;
    const value = scalarParam(params, "token");
    const token =
      scalarParam(params, "token_type_hint") === "refresh_token" || value === undefined
        ? undefined
        : this.store.tokens.get(value);
    if (!token) return plainJson(200, {});
    if (token.applicationId !== null && token.applicationId !== app.id) return denied;
    this.store.revokeToken(token);
    return plainJson(200, {});
  }

  // ---- /.well-known/oauth-authorization-server --------------------------------------

  metadata(baseUrl: string): Reply {
    return plainJson(
      200,
      {
        issuer: `${baseUrl}/`,
        authorization_endpoint: `${baseUrl}/oauth/authorize`,
        token_endpoint: `${baseUrl}/oauth/token`,
        revocation_endpoint: `${baseUrl}/oauth/revoke`,
        scopes_supported: this.scopes,
        response_types_supported: ["code"],
        response_modes_supported: ["query", "fragment", "form_post"],
        grant_types_supported: ["authorization_code", "password", "client_credentials"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        code_challenge_methods_supported: ["S256"],
        service_documentation: "https://docs.joinmastodon.org/",
        app_registration_endpoint: `${baseUrl}/api/v1/apps`,
      },
      { "Cache-Control": "max-age=259200, public" },
    );
  }
}

/** What /oauth/authorize without a session does: Devise sends the browser to sign in. */
export function signInRedirect(baseUrl: string): Reply {
  return redirect(`${baseUrl}/auth/sign_in`);
}
