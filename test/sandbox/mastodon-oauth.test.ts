import { createHash, randomBytes } from "node:crypto";
import { createOAuthAPIClient, createRestAPIClient, MastoHttpError } from "masto";
import { describe, expect, it } from "vitest";
import {
  type MastodonSandbox,
  type MastodonSandboxOptions,
  startMastodonSandbox,
} from "../../sandbox/mastodon.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();

async function start(opts: MastodonSandboxOptions = {}): Promise<MastodonSandbox> {
  const sandbox = closing(await startMastodonSandbox({ rateLimit: null, ...opts }));
  sandbox.addAccount({ username: "ada", displayName: "Ada Lovelace" });
  return sandbox;
}

const OOB = "urn:ietf:wg:oauth:2.0:oob";
const INVALID_GRANT =
  "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
const INVALID_CLIENT =
  "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";

interface App {
  id: string;
  client_id: string;
  client_secret: string;
  [k: string]: unknown;
}

async function post(
  sb: MastodonSandbox,
  path: string,
  body: Record<string, unknown> | URLSearchParams,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; res: Response }> {
  const form = body instanceof URLSearchParams;
  const res = await fetch(`${sb.url}${path}`, {
    method: "POST",
    headers: {
      "Content-Type": form ? "application/x-www-form-urlencoded" : "application/json",
      ...headers,
    },
    body: form ? body.toString() : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    res,
  };
}

async function registerApp(
  sb: MastodonSandbox,
  opts: { redirectUris?: string | string[]; scopes?: string } = {},
): Promise<App> {
  const r = await post(sb, "/api/v1/apps", {
    client_name: "fedimove",
    redirect_uris: opts.redirectUris ?? OOB,
    scopes: opts.scopes ?? "read write",
    website: "https://fedimove.example",
  });
  expect(r.status).toBe(200);
  return r.json as App;
}

function authorizeUrl(sb: MastodonSandbox, app: App, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: app.client_id,
    redirect_uri: OOB,
    scope: "read",
    ...extra,
  });
  return `${sb.url}/oauth/authorize?${q}`;
}

function exchange(sb: MastodonSandbox, app: App, code: string, extra: Record<string, string> = {}) {
  return post(sb, "/oauth/token", {
    grant_type: "authorization_code",
    client_id: app.client_id,
    client_secret: app.client_secret,
    redirect_uri: OOB,
    code,
    ...extra,
  });
}

const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");

describe("POST /api/v1/apps", () => {
  it("registers an app through masto and returns the 4.3 CredentialApplication", async () => {
    const sb = await start();
    const masto = createRestAPIClient({ url: sb.url });
    const app = await masto.v1.apps.create({
      clientName: "fedimove",
      redirectUris: OOB,
      scopes: "read:accounts read:follows profile",
      website: "https://fedimove.example",
    });
    expect(app.name).toBe("fedimove");
    expect(app.clientId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(app.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const raw = await post(sb, "/api/v1/apps", {
      client_name: "two uris",
      redirect_uris: ["https://app.example/callback", OOB],
      scopes: "read  write read",
    });
    expect(raw.status).toBe(200);
    expect(Object.keys(raw.json)).toEqual([
      "id",
      "name",
      "website",
      "scopes",
      "redirect_uris",
      "vapid_key",
      "redirect_uri",
      "client_id",
      "client_secret",
    ]);
    expect(raw.json).toMatchObject({
      id: expect.stringMatching(/^\d+$/),
      website: null,
      scopes: ["read", "write"],
      redirect_uris: ["https://app.example/callback", OOB],
      redirect_uri: `https://app.example/callback\n${OOB}`,
    });
    // Form encoding and the default scope.
    const form = await post(
      sb,
      "/api/v1/apps",
      new URLSearchParams({ client_name: "form", redirect_uris: OOB }),
    );
    expect(form.json.scopes).toEqual(["read"]);
  });

  it("answers per version: 4.2 has no scopes/redirect_uris, 4.4 adds client_secret_expires_at", async () => {
    const old = await start({ version: "4.2.10" });
    const r = await post(old, "/api/v1/apps", { client_name: "x", redirect_uris: OOB });
    expect(Object.keys(r.json)).toEqual([
      "id",
      "name",
      "website",
      "redirect_uri",
      "client_id",
      "client_secret",
      "vapid_key",
    ]);
    // 4.2 permits only a string: an array is dropped and the URI is blank.
    const arr = await post(old, "/api/v1/apps", { client_name: "x", redirect_uris: [OOB] });
    expect(arr).toMatchObject({
      status: 422,
      json: { error: "Validation failed: Redirect URI can't be blank" },
    });
    await old.close();

    const next = await start({ version: "4.4.0" });
    const n = await post(next, "/api/v1/apps", { client_name: "x", redirect_uris: OOB });
    expect(n.json.client_secret_expires_at).toBe(0);
  });

  it("refuses what Doorkeeper's validations refuse with 422 'Validation failed: …'", async () => {
    const sb = await start();
    const bad = async (body: Record<string, unknown>) =>
      (await post(sb, "/api/v1/apps", { client_name: "x", redirect_uris: OOB, ...body })).json;
    expect(await bad({ redirect_uris: "https://bad^host.example/cb" })).toEqual({
      error: "Validation failed: Redirect URI must be a valid URI.",
    });
    // String#split: a space separates URIs, so each word is checked on its own.
    expect(await bad({ redirect_uris: "not a uri" })).toEqual({
      error:
        "Validation failed: Redirect URI must be an absolute URI., Redirect URI must be an absolute URI., Redirect URI must be an absolute URI.",
    });
    expect(await bad({ redirect_uris: "callback" })).toEqual({
      error: "Validation failed: Redirect URI must be an absolute URI.",
    });
    expect(await bad({ redirect_uris: "javascript:alert(1)" })).toEqual({
      error:
        "Validation failed: Redirect URI is forbidden by the server., Redirect URI must specify a scheme.",
    });
    expect(await bad({ redirect_uris: "https://app.example/cb#frag" })).toEqual({
      error: "Validation failed: Redirect URI cannot contain a fragment.",
    });
    expect(await bad({ scopes: "read write:everything" })).toEqual({
      error: "Validation failed: Scopes doesn't match configured on the server.",
    });
    expect(await bad({ client_name: "" })).toEqual({
      error: "Validation failed: Application name can't be blank",
    });
    expect(await bad({ client_name: "x".repeat(61), website: "ftp://files.example" })).toEqual({
      error:
        "Validation failed: Application name is too long (maximum is 60 characters), Application website is invalid",
    });
    const masto = createRestAPIClient({ url: sb.url });
    const err = await masto.v1.apps
      .create({ clientName: "x", redirectUris: "nope nope", scopes: "read" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MastoHttpError);
    expect((err as MastoHttpError).statusCode).toBe(422);
  });

  it("knows the profile scope only from 4.3", async () => {
    const old = await start({ version: "4.2.10" });
    const r = await post(old, "/api/v1/apps", {
      client_name: "x",
      redirect_uris: OOB,
      scopes: "profile",
    });
    expect(r.status).toBe(422);
  });

  it("knows read:bookmarks only from 3.1: 422 at registration, invalid_scope at authorize", async () => {
    const v30 = await start({ version: "3.0.2" });
    const refused = await post(v30, "/api/v1/apps", {
      client_name: "x",
      redirect_uris: OOB,
      scopes: "read:accounts read:bookmarks",
    });
    expect(refused).toMatchObject({
      status: 422,
      json: { error: "Validation failed: Scopes doesn't match configured on the server." },
    });
    // An app without it may not ask for it either: Doorkeeper checks server ∩ app scopes.
    for (const scopes of ["read read:accounts", ""]) {
      const app = await registerApp(v30, { scopes });
      expect(() =>
        v30.authorize("ada", authorizeUrl(v30, app, { scope: "read:accounts read:bookmarks" })),
      ).toThrow(/invalid_scope/);
      const page = await fetch(authorizeUrl(v30, app, { scope: "read:bookmarks" }));
      expect(await page.text()).toContain("The requested scope is invalid, unknown, or malformed.");
    }

    const v31 = await start({ version: "3.1.0" });
    const app = await registerApp(v31, { scopes: "read:accounts read:bookmarks" });
    const { code } = v31.authorize(
      "ada",
      authorizeUrl(v31, app, { scope: "read:accounts read:bookmarks" }),
    );
    expect((await exchange(v31, app, code)).json).toMatchObject({
      scope: "read:accounts read:bookmarks",
    });
  });

  it("throttles registrations per IP: 5 per 10 minutes", async () => {
    const sandbox = closing(await startMastodonSandbox());
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (await post(sandbox, "/api/v1/apps", { client_name: "x", redirect_uris: OOB })).status,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});

describe("/oauth/authorize", () => {
  it("approves as the user: an OOB code shown on the native page", async () => {
    const sb = await start();
    const app = await registerApp(sb);
    const result = sb.authorize("ada", authorizeUrl(sb, app));
    expect(result.oob).toBe(true);
    expect(result.code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(result.redirectTo).toBe(`${sb.url}/oauth/authorize/native?code=${result.code}`);
    const page = await fetch(result.redirectTo);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const text = await page.text();
    expect(text).toContain(`value="${result.code}"`);
    expect(text).toContain("Copy this authorization code and paste it to the application.");
  });

  it("redirects to the app with code and state, also through POST /_sandbox/authorize", async () => {
    const sb = await start();
    const app = await registerApp(sb, {
      redirectUris: "https://app.example/callback?src=mastodon",
    });
    const url = authorizeUrl(sb, app, {
      redirect_uri: "https://app.example/callback?src=mastodon",
      state: "xyz 1/2",
    });
    const res = await fetch(`${sb.url}/_sandbox/authorize`, {
      method: "POST",
      body: JSON.stringify({ username: "ada", url }),
    });
    const body = (await res.json()) as { code: string; redirectTo: string; state: string };
    expect(body.state).toBe("xyz 1/2");
    expect(body.redirectTo).toBe(
      `https://app.example/callback?src=mastodon&code=${body.code}&state=xyz+1%2F2`,
    );
    const bad = await fetch(`${sb.url}/_sandbox/authorize`, {
      method: "POST",
      body: JSON.stringify({ username: "ada", url: authorizeUrl(sb, app) }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: "invalid_redirect_uri",
      error_description: "The redirect uri included is not valid.",
    });
  });

  it("serves the consent page, and Doorkeeper's error page with 400/401", async () => {
    const sb = await start();
    const app = await registerApp(sb, { scopes: "read:accounts read:follows" });
    const ok = await fetch(authorizeUrl(sb, app, { scope: "read:accounts" }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("no-cache, no-store, max-age=0, must-revalidate");
    const page = await ok.text();
    expect(page).toContain("Authorization required");
    expect(page).toContain("<strong>fedimove</strong>");
    expect(page).toContain(`value="${app.client_id}"`);

    const error = async (extra: Record<string, string>) => {
      const res = await fetch(authorizeUrl(sb, app, { scope: "read:accounts", ...extra }));
      return { status: res.status, text: await res.text() };
    };
    expect(await error({ client_id: "unknown" })).toMatchObject({
      status: 401,
      text: expect.stringContaining(INVALID_CLIENT),
    });
    expect(await error({ redirect_uri: "https://evil.example/cb" })).toMatchObject({
      status: 400,
      text: expect.stringContaining("The redirect uri included is not valid."),
    });
    // The app registered granular scopes: `read` is not a subset of them.
    expect(await error({ scope: "read" })).toMatchObject({
      status: 400,
      text: expect.stringContaining("The requested scope is invalid, unknown, or malformed."),
    });
    expect(await error({ code_challenge: "abc", code_challenge_method: "S512" })).toMatchObject({
      status: 400,
      text: expect.stringContaining("The code challenge method must be plain or S256."),
    });
    expect(await error({ response_type: "token" })).toMatchObject({
      status: 400,
      text: expect.stringContaining(
        "The authorization server does not support this response type.",
      ),
    });
    expect(await error({ client_id: "" })).toMatchObject({
      status: 400,
      text: expect.stringContaining("Missing required parameter: client_id."),
    });
    expect(() => sb.authorize("ada", authorizeUrl(sb, app, { scope: "write" }))).toThrow(
      /invalid_scope/,
    );
  });

  it("renders the error page with 200 before 4.3 (Doorkeeper 5.6.6)", async () => {
    const sb = await start({ version: "4.2.10" });
    const app = await registerApp(sb);
    const res = await fetch(authorizeUrl(sb, app, { client_id: "unknown" }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(INVALID_CLIENT);
  });
});

describe("POST /oauth/token", () => {
  it("exchanges a code once: the token works, a second exchange is invalid_grant", async () => {
    const sb = await start();
    const app = await registerApp(sb, { scopes: "read:accounts profile" });
    const { code } = sb.authorize("ada", authorizeUrl(sb, app, { scope: "profile read:accounts" }));
    const oauth = createOAuthAPIClient({ url: sb.url });
    const token = await oauth.token.create({
      grantType: "authorization_code",
      clientId: app.client_id,
      clientSecret: app.client_secret,
      redirectUri: OOB,
      code,
    });
    expect(token.tokenType).toBe("Bearer");
    expect(token.scope).toBe("profile read:accounts");
    expect(Math.abs(token.createdAt - Date.now() / 1000)).toBeLessThan(5);
    const me = await createRestAPIClient({
      url: sb.url,
      accessToken: token.accessToken,
    }).v1.accounts.verifyCredentials();
    expect(me.acct).toBe("ada");

    const again = await exchange(sb, app, code);
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ error: "invalid_grant", error_description: INVALID_GRANT });
    expect(again.res.headers.get("www-authenticate")).toBe(
      `Bearer realm="Doorkeeper", error="invalid_grant", error_description="${INVALID_GRANT}"`,
    );
    expect(again.res.headers.get("cache-control")).toBe("no-store, no-cache");
  });

  it("reuses the token of an earlier authorization with the same scopes (reuse_access_token)", async () => {
    const sb = await start();
    const app = await registerApp(sb);
    const first = await exchange(sb, app, sb.authorize("ada", authorizeUrl(sb, app)).code);
    const second = await exchange(sb, app, sb.authorize("ada", authorizeUrl(sb, app)).code);
    expect(second.json.access_token).toBe(first.json.access_token);
    const other = await exchange(
      sb,
      app,
      sb.authorize("ada", authorizeUrl(sb, app, { scope: "read write" })).code,
    );
    expect(other.json.access_token).not.toBe(first.json.access_token);
  });

  it("refuses a wrong redirect_uri, a wrong secret, a missing code, an expired code", async () => {
    let now = Date.UTC(2026, 10, 27, 12, 0, 0);
    const sb = await start({ now: () => now });
    const app = await registerApp(sb, { redirectUris: `${OOB}\nhttps://app.example/cb` });
    const code = () => sb.authorize("ada", authorizeUrl(sb, app)).code;

    const wrongUri = await exchange(sb, app, code(), { redirect_uri: "https://app.example/cb" });
    expect(wrongUri).toMatchObject({ status: 400, json: { error: "invalid_grant" } });

    const wrongSecret = await exchange(sb, app, code(), { client_secret: "nope" });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.json).toEqual({
      error: "invalid_client",
      error_description: INVALID_CLIENT,
    });

    const noCode = await exchange(sb, app, "");
    expect(noCode.json).toEqual({
      error: "invalid_request",
      error_description: "Missing required parameter: code.",
    });
    const noRedirect = await exchange(sb, app, code(), { redirect_uri: "" });
    expect(noRedirect.json.error_description).toBe("Missing required parameter: redirect_uri.");
    const noGrantType = await post(sb, "/oauth/token", { code: "x" });
    expect(noGrantType.json.error_description).toBe("Missing required parameter: grant_type.");
    const refresh = await post(sb, "/oauth/token", { grant_type: "refresh_token" });
    expect(refresh.json.error).toBe("unsupported_grant_type");

    const atTheLimit = code();
    now += 600_000;
    expect((await exchange(sb, app, atTheLimit)).status).toBe(200);
    const stale = code();
    now += 600_001;
    expect((await exchange(sb, app, stale)).json).toEqual({
      error: "invalid_grant",
      error_description: INVALID_GRANT,
    });

    // Client authentication by HTTP Basic works too.
    const basic = Buffer.from(`${app.client_id}:${app.client_secret}`).toString("base64");
    const viaBasic = await post(
      sb,
      "/oauth/token",
      new URLSearchParams({ grant_type: "authorization_code", code: code(), redirect_uri: OOB }),
      { Authorization: `Basic ${basic}` },
    );
    expect(viaBasic.status).toBe(200);
  });

  it("checks PKCE (4.3): missing verifier is invalid_request, a wrong one invalid_grant", async () => {
    const sb = await start();
    const app = await registerApp(sb);
    const verifier = randomBytes(32).toString("base64url");
    const code = () =>
      sb.authorize(
        "ada",
        authorizeUrl(sb, app, { code_challenge: s256(verifier), code_challenge_method: "S256" }),
      ).code;

    expect((await exchange(sb, app, code())).json).toEqual({
      error: "invalid_request",
      error_description: "Missing required parameter: code_verifier.",
    });
    expect((await exchange(sb, app, code(), { code_verifier: "wrong" })).json).toEqual({
      error: "invalid_grant",
      error_description: INVALID_GRANT,
    });
    const good = await exchange(sb, app, code(), { code_verifier: verifier });
    expect(good.status).toBe(200);
    // A verifier for a code that had no challenge fails too.
    const plainCode = sb.authorize("ada", authorizeUrl(sb, app)).code;
    expect((await exchange(sb, app, plainCode, { code_verifier: verifier })).json.error).toBe(
      "invalid_grant",
    );
    // 4.3 (Doorkeeper 5.7) still accepts `plain`.
    const plain = sb.authorize(
      "ada",
      authorizeUrl(sb, app, { code_challenge: "just-a-string", code_challenge_method: "plain" }),
    ).code;
    expect((await exchange(sb, app, plain, { code_verifier: "just-a-string" })).status).toBe(200);
  });

  it("ignores code_challenge before 4.3 and refuses plain from 4.4", async () => {
    const old = await start({ version: "4.2.10" });
    const oldApp = await registerApp(old);
    const { code } = old.authorize(
      "ada",
      authorizeUrl(old, oldApp, { code_challenge: "x", code_challenge_method: "bogus" }),
    );
    expect((await exchange(old, oldApp, code)).status).toBe(200);
    await old.close();

    const next = await start({ version: "4.4.0" });
    const app = await registerApp(next);
    const res = await fetch(
      authorizeUrl(next, app, { code_challenge: "abc", code_challenge_method: "plain" }),
    );
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("The code_challenge_method must be S256.");
  });

  it("issues app tokens by client_credentials; user endpoints refuse them", async () => {
    const sb = await start();
    const app = await registerApp(sb);
    const r = await post(sb, "/oauth/token", {
      grant_type: "client_credentials",
      client_id: app.client_id,
      client_secret: app.client_secret,
    });
    expect(r.json).toMatchObject({ token_type: "Bearer", scope: "read" });
    const auth = { headers: { Authorization: `Bearer ${r.json.access_token}` } };
    const creds = await fetch(`${sb.url}/api/v1/apps/verify_credentials`, auth);
    expect(await creds.json()).toMatchObject({ name: "fedimove", scopes: ["read", "write"] });
    const me = await fetch(`${sb.url}/api/v1/accounts/verify_credentials`, auth);
    expect(me.status).toBe(422);
    expect(await me.json()).toEqual({ error: "This method requires an authenticated user" });

    // An app with only granular scopes gets invalid_scope without an explicit scope.
    const granular = await registerApp(sb, { scopes: "read:accounts" });
    const refused = await post(sb, "/oauth/token", {
      grant_type: "client_credentials",
      client_id: granular.client_id,
      client_secret: granular.client_secret,
    });
    expect(refused).toMatchObject({ status: 400, json: { error: "invalid_scope" } });
  });
});

describe("POST /oauth/revoke", () => {
  it("revokes for the owning client only; the token then gets 401 'was revoked'", async () => {
    const sb = await start();
    const app = await registerApp(sb);
    const other = await registerApp(sb);
    const token = (await exchange(sb, app, sb.authorize("ada", authorizeUrl(sb, app)).code)).json
      .access_token as string;

    const denied = await post(sb, "/oauth/revoke", {
      client_id: other.client_id,
      client_secret: other.client_secret,
      token,
    });
    expect(denied).toMatchObject({
      status: 403,
      json: {
        error: "unauthorized_client",
        error_description: "You are not authorized to revoke this token",
      },
    });
    const noClient = await post(sb, "/oauth/revoke", { token });
    expect(noClient.status).toBe(403);
    // An unknown token is "revoked" too (RFC 7009).
    expect(
      (
        await post(sb, "/oauth/revoke", {
          client_id: app.client_id,
          client_secret: app.client_secret,
          token: "unknown",
        })
      ).json,
    ).toEqual({});

    const client = createRestAPIClient({ url: sb.url, accessToken: token });
    expect((await client.v1.accounts.verifyCredentials()).acct).toBe("ada");
    const oauth = createOAuthAPIClient({ url: sb.url });
    await oauth.revoke({ clientId: app.client_id, clientSecret: app.client_secret, token });
    const err = await client.v1.accounts.verifyCredentials().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MastoHttpError);
    expect((err as MastoHttpError).statusCode).toBe(401);
    expect((err as MastoHttpError).message).toBe("The access token was revoked");
  });
});

describe("scopes", () => {
  it("tokens carry the granted scopes and the endpoints enforce them", async () => {
    const sb = await start();
    sb.seedFollows("ada", 3);
    sb.block("ada", "troll@bad.example");
    const app = await registerApp(sb, { scopes: "read:accounts read:blocks" });
    const token = (
      await exchange(
        sb,
        app,
        sb.authorize("ada", authorizeUrl(sb, app, { scope: "read:accounts" })).code,
      )
    ).json.access_token as string;
    const client = createRestAPIClient({ url: sb.url, accessToken: token });
    const ada = await client.v1.accounts.verifyCredentials();
    expect(await client.v1.accounts.$select(ada.id).following.list()).toHaveLength(3);
    const rel = await client.v1.accounts.relationships
      .fetch({ id: [ada.id] })
      .catch((e: unknown) => e);
    expect((rel as MastoHttpError).statusCode).toBe(403);
    expect((rel as MastoHttpError).message).toBe("This action is outside the authorized scopes");
    const blocks = await Promise.resolve(client.v1.blocks.list()).catch((e: unknown) => e);
    expect((blocks as MastoHttpError).statusCode).toBe(403);

    const blockToken = (
      await exchange(
        sb,
        app,
        sb.authorize("ada", authorizeUrl(sb, app, { scope: "read:blocks" })).code,
      )
    ).json.access_token as string;
    const blocker = createRestAPIClient({ url: sb.url, accessToken: blockToken });
    expect((await blocker.v1.blocks.list()).map((a) => a.acct)).toEqual(["troll@bad.example"]);
  });
});

describe("discovery", () => {
  it("serves /.well-known/oauth-authorization-server from 4.3, 404 before", async () => {
    const sb = await start();
    const res = await fetch(`${sb.url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: `${sb.url}/`,
      authorization_endpoint: `${sb.url}/oauth/authorize`,
      token_endpoint: `${sb.url}/oauth/token`,
      revocation_endpoint: `${sb.url}/oauth/revoke`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "password", "client_credentials"],
      code_challenge_methods_supported: ["S256"],
      service_documentation: "https://docs.joinmastodon.org/",
      app_registration_endpoint: `${sb.url}/api/v1/apps`,
    });
    const scopes = doc.scopes_supported as string[];
    expect(scopes.slice(0, 3)).toEqual(["read", "profile", "write"]);
    for (const s of ["read:follows", "read:lists", "read:blocks", "read:mutes", "read:bookmarks"]) {
      expect(scopes).toContain(s);
    }
    expect(scopes).not.toContain("crypto");

    const old = await startMastodonSandbox({ version: "4.2.10" });
    const missing = await fetch(`${old.url}/.well-known/oauth-authorization-server`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain("The page you are looking for isn't here.");
    await old.close();
  });
});

describe("Vacuum::ApplicationsVacuum (4.2.0–4.2.8)", () => {
  const DAY = 24 * 60 * 60_000;

  /** A server whose clock the test moves, with apps in every state the vacuum looks at. */
  async function aged(opts: MastodonSandboxOptions) {
    let clock = Date.UTC(2024, 0, 1);
    const sb = await start({ ...opts, now: () => clock });
    const idle = await registerApp(sb);
    const signedIn = await registerApp(sb);
    const token = (
      await exchange(sb, signedIn, sb.authorize("ada", authorizeUrl(sb, signedIn)).code)
    ).json.access_token as string;
    const revoked = await registerApp(sb);
    const revokedToken = (
      await exchange(sb, revoked, sb.authorize("ada", authorizeUrl(sb, revoked)).code)
    ).json.access_token as string;
    await post(sb, "/oauth/revoke", {
      client_id: revoked.client_id,
      client_secret: revoked.client_secret,
      token: revokedToken,
    });
    clock += DAY - 60_000;
    const young = await registerApp(sb);
    clock += 2 * 60_000;
    /** What a sign-in with this app meets now: the consent page, or Doorkeeper's error. */
    const authorizing = (app: App) => {
      try {
        sb.authorize("ada", authorizeUrl(sb, app));
        return "ok";
      } catch (err) {
        return (err as { oauth?: { error: string } }).oauth?.error;
      }
    };
    return { sb, idle, signedIn, token, revoked, young, authorizing };
  }

  it("deletes apps over a day old with no live token: authorize and token answer invalid_client", async () => {
    const { sb, idle, signedIn, token, revoked, young, authorizing } = await aged({
      version: "4.2.5",
    });
    expect(authorizing(idle)).toBe("invalid_client");
    expect(authorizing(revoked)).toBe("invalid_client");
    expect(authorizing(signedIn)).toBe("ok");
    expect(authorizing(young)).toBe("ok");
    // The error page a user's browser would show (status 200 before 4.3).
    const page = await fetch(authorizeUrl(sb, idle));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(INVALID_CLIENT);
    // A code can't be traded either, and revoke no longer knows the client.
    expect(await exchange(sb, idle, "anything")).toMatchObject({
      status: 401,
      json: { error: "invalid_client", error_description: INVALID_CLIENT },
    });
    const probe = await post(sb, "/oauth/revoke", {
      client_id: idle.client_id,
      client_secret: idle.client_secret,
      token: "not-a-token",
    });
    expect(probe).toMatchObject({ status: 403, json: { error: "unauthorized_client" } });
    // The app with a live token stays, and so does its token.
    const me = await fetch(`${sb.url}/api/v1/accounts/verify_credentials`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(me.status).toBe(200);
  });

  it("keeps them from 4.2.9 on and before 4.2, unless asked to; off on request for 4.2.5", async () => {
    for (const version of ["4.2.9", "4.3.2", "4.1.4"]) {
      const { idle, authorizing } = await aged({ version });
      expect(authorizing(idle), version).toBe("ok");
    }
    const kept = await aged({ version: "4.2.5", applicationsVacuum: false });
    expect(kept.authorizing(kept.idle)).toBe("ok");
    const forced = await aged({ version: "4.3.2", applicationsVacuum: true });
    expect(forced.authorizing(forced.idle)).toBe("invalid_client");
  });
});
