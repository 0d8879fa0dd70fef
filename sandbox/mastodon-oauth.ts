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
 *
 * Mastodon's settings that matter: default scope `read`, `enforce_configured_scopes`,
 * `reuse_access_token`, access tokens that never expire, codes that expire after 10 minutes,
 * grant flows authorization_code, password and client_credentials, every client
 * confidential, `forbid_redirect_uri` for data:, vbscript: and javascript:.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import {
  apiJson,
  blank,
  html,
  type Params,
  plainJson,
  type Reply,
  redirect,
  scalarParam,
} from "./mastodon-http.js";
import { oauthCodePage, oauthConsentPage, oauthErrorPage } from "./mastodon-pages.js";
import type { AccountRow, AppRow, GrantRow, TokenRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

export const OOB_URI = "urn:ietf:wg:oauth:2.0:oob";
const OOB_URIS = [OOB_URI, "urn:ietf:wg:oauth:2.0:oob:auto"];

/** Rails.configuration.x.vapid_public_key of the stand-in. */
export const VAPID_PUBLIC_KEY =
  "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=";

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

// ---- Ruby's URI, as far as Doorkeeper's checks need it ---------------------------------

export class InvalidUriError extends Error {}

export interface RubyUri {
  scheme: string | null;
  userinfo: string | null;
  host: string | null;
  port: number | null;
  path: string;
  opaque: string | null;
  query: string | null;
  fragment: string | null;
}

const URI_CHARS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;

/** URI::RFC3986_Parser#parse: characters outside RFC 3986 raise InvalidURIError. */
export function parseRubyUri(value: string): RubyUri {
  if (!URI_CHARS.test(value)) throw new InvalidUriError(`bad URI(is not URI?): ${value}`);
  const m =
    /^(?:([A-Za-z][A-Za-z0-9+\-.]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(
      value,
    );
  if (!m) throw new InvalidUriError(`bad URI(is not URI?): ${value}`);
  const scheme = m[1] ?? null;
  const authority = m[2];
  let path = m[3] ?? "";
  let opaque: string | null = null;
  let userinfo: string | null = null;
  let host: string | null = null;
  let port: number | null = null;
  if (authority !== undefined) {
    let hostPort = authority;
    const at = authority.lastIndexOf("@");
    if (at !== -1) {
      userinfo = authority.slice(0, at);
      hostPort = authority.slice(at + 1);
    }
    const pm = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
    if (!pm) throw new InvalidUriError(`bad URI(is not URI?): ${value}`);
    host = pm[1] ?? "";
    if (pm[2]) port = Number(pm[2]);
  } else if (scheme !== null && !path.startsWith("/") && path !== "") {
    opaque = path;
    path = "";
  }
  const lower = scheme?.toLowerCase();
  if (port === null && lower === "http") port = 80;
  if (port === null && lower === "https") port = 443;
  return {
    scheme,
    userinfo,
    host,
    port,
    path,
    opaque,
    query: m[4] ?? null,
    fragment: m[5] ?? null,
  };
}

function isHttp(uri: RubyUri): boolean {
  const s = uri.scheme?.toLowerCase();
  return s === "http" || s === "https";
}

/** URI::Generic#== after #normalize (scheme and host downcased, empty path → "/"). */
function sameUri(a: RubyUri, b: RubyUri): boolean {
  const norm = (u: RubyUri) => [
    u.scheme?.toLowerCase() ?? null,
    u.userinfo,
    u.host?.toLowerCase() ?? null,
    u.port,
    u.path === "" && u.opaque === null ? "/" : u.path,
    u.opaque,
    u.query,
    u.fragment,
  ];
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

function isLoopback(host: string | null): boolean {
  if (!host) return false;
  const h = host.replace(/^\[|\]$/g, "");
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::1" || h === "0:0:0:0:0:0:0:1";
}

/** Doorkeeper::OAuth::Helpers::URIChecker.valid? */
function uriValid(url: string): boolean {
  if (OOB_URIS.includes(url)) return true;
  try {
    const uri = parseRubyUri(url);
    const validScheme = !blank(uri.scheme) && uri.scheme !== "localhost";
    const iffHost = !(isHttp(uri) && blank(uri.host));
    return validScheme && iffHost && uri.fragment === null && uri.opaque === null;
  } catch {
    return false;
  }
}

/** URIChecker.matches?: query params in any order; loopback ports ignored (RFC 8252 §7.3). */
function uriMatches(url: string, clientUrl: string): boolean {
  let a: RubyUri;
  let b: RubyUri;
  try {
    a = parseRubyUri(url);
    b = parseRubyUri(clientUrl);
  } catch {
    return false;
  }
  if (b.query !== null) {
    const q = a.query;
    const cq = b.query;
    const same =
      (cq === "" && (q === null || q === "")) ||
      (q !== null && cq.split("&").sort().join("&") === q.split("&").sort().join("&"));
    if (!same) return false;
    b = { ...b, query: null };
  }
  if (isLoopback(a.host) && isLoopback(b.host)) {
    a = { ...a, port: null };
    b = { ...b, port: null };
  }
  return sameUri({ ...a, query: null }, b);
}

/** URIChecker.valid_for_authorization?: valid, and matching one of the registered URIs. */
export function validForAuthorization(url: string, registered: string): boolean {
  return uriValid(url) && registered.split(/\s+/).some((r) => r !== "" && uriMatches(url, r));
}

/** Doorkeeper::RedirectUriValidator with Mastodon's forbid_redirect_uri and force_ssl false. */
function redirectUriErrors(value: string): string[] {
  if (blank(value)) return ["can't be blank"];
  const errors: string[] = [];
  for (const val of value.split(/\s+/).filter((v) => v !== "")) {
    if (OOB_URIS.includes(val)) continue;
    let uri: RubyUri;
    try {
      uri = parseRubyUri(val);
    } catch {
      // The rescue sits outside the loop: one error, and the rest isn't checked.
      errors.push("must be a valid URI.");
      return errors;
    }
    const scheme = uri.scheme?.toLowerCase() ?? "";
    if (["data", "vbscript", "javascript"].includes(scheme))
      errors.push("is forbidden by the server.");
    if (uri.fragment !== null) errors.push("cannot contain a fragment.");
    if (uri.opaque !== null || scheme === "localhost") errors.push("must specify a scheme.");
    if (uri.scheme === null && blank(uri.host)) errors.push("must be an absolute URI.");
    if (isHttp(uri) && blank(uri.host)) errors.push("must be a valid URI.");
  }
  return errors;
}

/** Mastodon's URLValidator: http(s) with a host. */
function websiteValid(value: string): boolean {
  try {
    const uri = parseRubyUri(value);
    return isHttp(uri) && !blank(uri.host);
  } catch {
    return false;
  }
}

// ---- scopes -------------------------------------------------------------------------

/** default_scopes + optional_scopes of config/initializers/doorkeeper.rb for this version. */
export function serverScopes(store: Store): string[] {
  const v = (a: number, b: number, c = 0) => store.atLeast(a, b, c);
  const admin = (kind: "read" | "write") => [
    `admin:${kind}`,
    `admin:${kind}:accounts`,
    `admin:${kind}:reports`,
    ...(v(4, 1)
      ? [
          `admin:${kind}:domain_allows`,
          `admin:${kind}:domain_blocks`,
          `admin:${kind}:ip_blocks`,
          `admin:${kind}:email_domain_blocks`,
          `admin:${kind}:canonical_email_blocks`,
        ]
      : []),
  ];
  const granular = (kind: "read" | "write", names: string[]) =>
    v(2, 4, 3) ? names.map((n) => `${kind}:${n}`) : [];
  const all = [
    "read",
    ...(v(4, 3) ? ["profile"] : []),
    "write",
    ...granular("write", [
      "accounts",
      "blocks",
      ...(v(3, 1) ? ["bookmarks"] : []),
      ...(v(2, 6) ? ["conversations"] : []),
      "favourites",
      "filters",
      "follows",
      "lists",
      "media",
      "mutes",
      "notifications",
      "reports",
      "statuses",
    ]),
    ...granular("read", [
      "accounts",
      "blocks",
      ...(v(3, 1) ? ["bookmarks"] : []),
      "favourites",
      "filters",
      "follows",
      "lists",
      "mutes",
      "notifications",
      "search",
      "statuses",
    ]),
    "follow",
    "push",
    ...(v(2, 9, 1) ? [...admin("read"), ...admin("write")] : []),
    ...(v(3, 2) && !v(4, 3) ? ["crypto"] : []),
  ];
  return [...new Set(all)];
}

/** Doorkeeper::OAuth::Scopes.from_string: split on whitespace, uniq. */
export function scopesFromString(value: string | undefined | null): string[] {
  return [...new Set((value ?? "").split(/\s+/).filter((s) => s !== ""))];
}

/** ScopeChecker.valid?: present, no CR/LF/TAB, all within the app's scopes (or the server's). */
function scopesValid(scopeStr: string, server: string[], app: string[] | null): boolean {
  if (blank(scopeStr) || /[\n\r\t]/.test(scopeStr)) return false;
  const allowed = app && app.length > 0 ? app : server;
  return scopesFromString(scopeStr).every((s) => allowed.includes(s));
}

function sameScopes(a: string[], b: string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
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

/** Rack::Utils.escape (URI.encode_www_form_component). */
function wwwFormEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/%20/g, "+")
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Authorization::URIBuilder.uri_with_query / uri_with_fragment (blank values dropped). */
function uriWith(url: string, params: Record<string, string | null>, fragment: boolean): string {
  const cleaned = Object.entries(params).filter(([, v]) => !blank(v)) as [string, string][];
  const build = (pairs: [string, string][]) =>
    pairs.map(([k, v]) => `${wwwFormEscape(k)}=${wwwFormEscape(v)}`).join("&");
  if (fragment) return `${url}#${build(cleaned)}`;
  // Rack::Utils.parse_query of the registered query, then the new parameters merged in.
  const q = url.indexOf("?");
  const base = q === -1 ? url : url.slice(0, q);
  const merged = new Map<string, string>();
  if (q !== -1) {
    for (const part of url.slice(q + 1).split("&")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const dec = (x: string) => decodeURIComponent(x.replace(/\+/g, " "));
      merged.set(
        dec(eq === -1 ? part : part.slice(0, eq)),
        eq === -1 ? "" : dec(part.slice(eq + 1)),
      );
    }
  }
  for (const [k, v] of cleaned) merged.set(k, v);
  return `${base}?${build([...merged].filter(([, v]) => !blank(v)))}`;
}

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

  // ---- POST /api/v1/apps ------------------------------------------------------------

  /** Api::V1::AppsController#create → 200 CredentialApplication, or 422 "Validation failed: …". */
  registerApp(params: Params): Reply {
    const v43 = this.store.atLeast(4, 3);
    const name = scalarParam(params, "client_name") ?? "";
    const rawRedirect = params.redirect_uris;
    let redirectUri = "";
    if (typeof rawRedirect === "string" || typeof rawRedirect === "number") {
      redirectUri = String(rawRedirect);
    } else if (
      v43 &&
      Array.isArray(rawRedirect) &&
      rawRedirect.every((x) => typeof x === "string" || typeof x === "number")
    ) {
      // Doorkeeper::Application#redirect_uri= joins an array with newlines.
      redirectUri = rawRedirect.map(String).join("\n");
    }
    const scopesParam = scalarParam(params, "scopes");
    const scopes = scopesFromString(scopesParam ?? "read");
    const website = scalarParam(params, "website") ?? "";

    const errors: string[] = [];
    if (blank(name)) errors.push("Application name can't be blank");
    for (const e of redirectUriErrors(redirectUri)) errors.push(`Redirect URI ${e}`);
    if (scopes.length > 0 && !scopesValid(scopes.join(" "), this.scopes, null)) {
      errors.push("Scopes doesn't match configured on the server.");
    }
    if ([...name].length > 60)
      errors.push("Application name is too long (maximum is 60 characters)");
    if ([...redirectUri].length > 2000) {
      errors.push("Redirect URI is too long (maximum is 2000 characters)");
    }
    if (!blank(website)) {
      if (!websiteValid(website)) errors.push("Application website is invalid");
      if ([...website].length > 2000) {
        errors.push("Application website is too long (maximum is 2000 characters)");
      }
    }
    if (errors.length > 0)
      return apiJson(422, { error: `Validation failed: ${errors.join(", ")}` });

    const app = this.store.createApp({
      name,
      website: blank(website) ? null : website,
      redirectUri,
      scopes,
      superapp: false,
    });
    return apiJson(200, this.serializeApp(app, true));
  }

  /** REST::ApplicationSerializer / CredentialApplicationSerializer as each version writes them. */
  serializeApp(app: AppRow, credentials: boolean): Record<string, unknown> {
    if (!this.store.atLeast(4, 3)) {
      return credentials
        ? {
            id: String(app.id),
            name: app.name,
            website: app.website,
            redirect_uri: app.redirectUri,
            client_id: app.uid,
            client_secret: app.secret,
            vapid_key: VAPID_PUBLIC_KEY,
          }
        : { name: app.name, website: app.website, vapid_key: VAPID_PUBLIC_KEY };
    }
    return {
      id: String(app.id),
      name: app.name,
      website: app.website,
      scopes: app.scopes,
      redirect_uris: app.redirectUri.split(/\s+/).filter((u) => u !== ""),
      vapid_key: VAPID_PUBLIC_KEY,
      redirect_uri: app.redirectUri,
      ...(credentials ? { client_id: app.uid, client_secret: app.secret } : {}),
      ...(credentials && this.store.atLeast(4, 4) ? { client_secret_expires_at: 0 } : {}),
    };
  }

  /** GET /api/v1/apps/verify_credentials (the caller has checked the token). */
  appOfToken(token: TokenRow): AppRow | undefined {
    return token.applicationId === null ? undefined : this.store.apps.get(token.applicationId);
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
    token.revoked = true;
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
