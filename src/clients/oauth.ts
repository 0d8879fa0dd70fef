/**
 * Mastodon's OAuth, as a confidential client: register once per server and
 * redirect URI, send the user to /oauth/authorize (with PKCE where the server's
 * discovery document offers S256), and trade the code for a token. Tokens don't
 * expire on Mastodon; the bot revokes its own when the journey ends.
 */
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { BODY_LIMITS } from "../net/body-limits.js";
import { RejectedError } from "../net/errors.js";
import type { Http } from "../net/http.js";

export const OOB = "urn:ietf:wg:oauth:2.0:oob";

export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  /** The scopes registered; a request may ask for these or fewer. */
  scopes: string;
  redirectUri: string;
}

export interface ServerAuth {
  /** S256 offered: send a code challenge. */
  pkce: boolean;
}

const AppAnswer = z.object({ client_id: z.string().min(1), client_secret: z.string().min(1) });
const TokenAnswer = z.object({ access_token: z.string().min(1), scope: z.string().optional() });
const Discovery = z.object({ code_challenge_methods_supported: z.array(z.string()).optional() });

/**
 * App registration, the token exchange and revocation carry the client secret (and the code
 * and PKCE verifier, or the token) in their form. A redirect there is an error, never
 * followed, not even on the same origin: Mastodon answers these itself, and anything else
 * is a server we shouldn't be handing them to.
 */
const SECRET_CARRYING = { redirect: "error", maxBytes: BODY_LIMITS.oauth } as const;

/** base64url of random bytes: PKCE verifiers and OAuth `state`. */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString("base64url");

export const challengeOf = (verifier: string): string =>
  createHash("sha256").update(verifier).digest("base64url");

export class MastodonOAuth {
  constructor(private readonly http: Http) {}

  /** RFC 8414 discovery exists from Mastodon 4.3 on; older servers answer 404 and get no PKCE. */
  async discover(origin: string): Promise<ServerAuth> {
    try {
      const { data } = await this.http.json(
        `${origin}/.well-known/oauth-authorization-server`,
        Discovery,
        { maxBytes: BODY_LIMITS.oauth },
      );
      return { pkce: data.code_challenge_methods_supported?.includes("S256") ?? false };
    } catch (err) {
      if (err instanceof RejectedError && err.status === 404) return { pkce: false };
      throw err;
    }
  }

  async registerApp(
    origin: string,
    opts: { name: string; website?: string; scopes: string; redirectUri: string },
  ): Promise<OAuthApp> {
    const { data } = await this.http.json(`${origin}/api/v1/apps`, AppAnswer, {
      ...SECRET_CARRYING,
      method: "POST",
      form: {
        client_name: opts.name,
        redirect_uris: opts.redirectUri,
        scopes: opts.scopes,
        ...(opts.website ? { website: opts.website } : {}),
      },
    });
    return {
      clientId: data.client_id,
      clientSecret: data.client_secret,
      scopes: opts.scopes,
      redirectUri: opts.redirectUri,
    };
  }

  authorizeUrl(
    origin: string,
    app: OAuthApp,
    opts: { scopes: string; state: string; challenge?: string },
  ): string {
    const q = new URLSearchParams({
      response_type: "code",
      client_id: app.clientId,
      redirect_uri: app.redirectUri,
      scope: opts.scopes,
      state: opts.state,
    });
    if (opts.challenge) {
      q.set("code_challenge", opts.challenge);
      q.set("code_challenge_method", "S256");
    }
    return `${origin}/oauth/authorize?${q}`;
  }

  async exchange(
    origin: string,
    app: OAuthApp,
    code: string,
    verifier?: string,
  ): Promise<{ token: string; scope?: string }> {
    const { data } = await this.http.json(`${origin}/oauth/token`, TokenAnswer, {
      ...SECRET_CARRYING,
      method: "POST",
      form: {
        grant_type: "authorization_code",
        code,
        client_id: app.clientId,
        client_secret: app.clientSecret,
        redirect_uri: app.redirectUri,
        ...(verifier ? { code_verifier: verifier } : {}),
      },
    });
    return { token: data.access_token, scope: data.scope };
  }

  async revoke(origin: string, app: OAuthApp, token: string): Promise<void> {
    await this.http.request(`${origin}/oauth/revoke`, {
      ...SECRET_CARRYING,
      method: "POST",
      idempotent: true,
      form: { client_id: app.clientId, client_secret: app.clientSecret, token },
    });
  }
}
