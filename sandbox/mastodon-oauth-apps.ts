/**
 * OAuth applications in the Mastodon stand-in: registration (Api::V1::AppsController#create
 * with Doorkeeper's and Mastodon's validations) and the Application entities each version
 * serializes.
 */

import { apiJson, blank, type Params, type Reply, scalarParam } from "./mastodon-http.js";
import { scopesFromString, scopesValid, serverScopes } from "./mastodon-oauth-scopes.js";
import { redirectUriErrors, websiteValid } from "./mastodon-oauth-uri.js";
import type { AppRow, TokenRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

/** Rails.configuration.x.vapid_public_key of the stand-in. */
export const VAPID_PUBLIC_KEY =
  "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=";

/** Api::V1::AppsController#create → 200 CredentialApplication, or 422 "Validation failed: …". */
export function registerApp(store: Store, params: Params): Reply {
  const v43 = store.atLeast(4, 3);
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
  if (scopes.length > 0 && !scopesValid(scopes.join(" "), serverScopes(store), null)) {
    errors.push("Scopes doesn't match configured on the server.");
  }
  if ([...name].length > 60) errors.push("Application name is too long (maximum is 60 characters)");
  if ([...redirectUri].length > 2000) {
    errors.push("Redirect URI is too long (maximum is 2000 characters)");
  }
  if (!blank(website)) {
    if (!websiteValid(website)) errors.push("Application website is invalid");
    if ([...website].length > 2000) {
      errors.push("Application website is too long (maximum is 2000 characters)");
    }
  }
  if (errors.length > 0) return apiJson(422, { error: `Validation failed: ${errors.join(", ")}` });

  const app = store.createApp({
    name,
    website: blank(website) ? null : website,
    redirectUri,
    scopes,
    superapp: false,
  });
  return apiJson(200, serializeApp(store, app, true));
}

/** REST::ApplicationSerializer / CredentialApplicationSerializer as each version writes them. */
export function serializeApp(
  store: Store,
  app: AppRow,
  credentials: boolean,
): Record<string, unknown> {
  if (!store.atLeast(4, 3)) {
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
    ...(credentials && store.atLeast(4, 4) ? { client_secret_expires_at: 0 } : {}),
  };
}

/** GET /api/v1/apps/verify_credentials (the caller has checked the token). */
export function appOfToken(store: Store, token: TokenRow): AppRow | undefined {
  return token.applicationId === null ? undefined : store.apps.get(token.applicationId);
}
