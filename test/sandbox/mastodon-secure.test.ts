/**
 * The Mastodon stand-in's harsh modes: secure mode (AUTHORIZED_FETCH) refuses unsigned
 * ActivityPub reads of actors and collections and checks real signatures against the
 * signer's key fetched from its keyId; the closed API (DISALLOW_UNAUTHENTICATED_API_ACCESS,
 * limited federation mode) refuses tokenless calls, and in limited federation mode a moved
 * account's token too.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  type MastodonSandbox,
  type MastodonSandboxOptions,
  startMastodonSandbox,
} from "../../sandbox/mastodon.js";
import { signatureHeaders } from "../../src/net/signatures.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();
const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const AP = { Accept: "application/activity+json" };

function keyPair() {
  return generateKeyPairSync("rsa", { modulusLength: 2048 });
}

/**
 * Another server's Application actor at /actor, holding `publicKey`: what keyIds point at, with
 * the WebFinger record that loops back to it (or, with `webfinger: false`, none).
 */
async function keyHost(
  publicKey: KeyObject,
  opts: { webfinger?: boolean } = {},
): Promise<{ keyId: string; served: () => number }> {
  let served = 0;
  const server = http.createServer((req, res) => {
    const base = `http://${req.headers.host}`;
    if (req.url?.startsWith("/.well-known/webfinger")) {
      if (opts.webfinger === false) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/jrd+json" });
      res.end(
        JSON.stringify({
          subject: `acct:signer@${req.headers.host}`,
          links: [{ rel: "self", type: "application/activity+json", href: `${base}/actor` }],
        }),
      );
      return;
    }
    served += 1;
    res.writeHead(200, { "content-type": "application/activity+json" });
    res.end(
      JSON.stringify({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        id: `${base}/actor`,
        type: "Application",
        preferredUsername: "signer",
        inbox: `${base}/actor/inbox`,
        publicKey: {
          id: `${base}/actor#main-key`,
          owner: `${base}/actor`,
          publicKeyPem: publicKey.export({ type: "spki", format: "pem" }),
        },
      }),
    );
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { keyId: `http://127.0.0.1:${port}/actor#main-key`, served: () => served };
}

async function start(opts: MastodonSandboxOptions = {}) {
  const m = closing(await startMastodonSandbox({ rateLimit: null, ...opts }));
  m.addAccount({ username: "ada", displayName: "Ada" });
  m.seedFollowers("ada", 3);
  return m;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, redirect: "manual" });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // HTML
  }
  return { status: res.status, body, vary: res.headers.get("vary") };
}

/** A signed GET with the bot's signer (src/net/signatures.ts). */
async function signedGet(url: string, keyId: string, privateKey: KeyObject, now = Date.now()) {
  const headers = signatureHeaders(
    { keyId, privateKey },
    { method: "GET", url: new URL(url) },
    now,
  );
  return get(url, { ...AP, ...headers });
}

/** A signature over headers of the test's choosing, to show what the server insists on. */
function handSigned(
  keyId: string,
  privateKey: KeyObject,
  lines: [string, string][],
  extra: Record<string, string> = {},
): Record<string, string> {
  const text = lines.map(([n, v]) => `${n}: ${v}`).join("\n");
  const signature = sign("sha256", Buffer.from(text), privateKey).toString("base64");
  const names = lines.map(([n]) => n).join(" ");
  return {
    ...AP,
    ...extra,
    signature: `keyId="${keyId}",algorithm="rsa-sha256",headers="${names}",signature="${signature}"`,
  };
}

describe("secure mode (authorizedFetch)", () => {
  it("is off by default: an unsigned actor read is served", async () => {
    const m = await start();
    expect((await get(`${m.url}/users/ada`, AP)).status).toBe(200);
    expect((await get(`${m.url}/users/ada/followers`, AP)).status).toBe(200);
  });

  it("refuses unsigned reads of actors and collections with 401; WebFinger, HTML and REST still answer", async () => {
    const m = await start({ authorizedFetch: true });
    for (const path of ["/users/ada", "/@ada", "/users/ada/followers", "/users/ada/following"]) {
      const r = await get(`${m.url}${path}`, AP);
      expect(r.status, path).toBe(401);
      expect(r.body, path).toEqual({ error: "Request not signed" });
      expect(r.vary).toContain("Signature");
    }
    const wf = await get(`${m.url}/.well-known/webfinger?resource=acct:ada@${m.domain}`);
    expect(wf.status).toBe(200);
    expect((await get(`${m.url}/@ada`)).status).toBe(200);
    const lookup = await get(`${m.url}/api/v1/accounts/lookup?acct=ada`);
    expect(lookup.status).toBe(200);
    expect((lookup.body as { username: string }).username).toBe("ada");
    // An unknown account is still 404 (set_account runs before the signature check).
    expect((await get(`${m.url}/users/nobody`, AP)).status).toBe(404);
  });

  it("serves a request signed with the key its keyId names, fetched once and cached", async () => {
    const m = await start({ authorizedFetch: true });
    const { publicKey, privateKey } = keyPair();
    const host = await keyHost(publicKey);
    const actor = await signedGet(`${m.url}/users/ada`, host.keyId, privateKey);
    expect(actor.status).toBe(200);
    expect((actor.body as { preferredUsername: string }).preferredUsername).toBe("ada");
    const followers = await signedGet(`${m.url}/users/ada/followers`, host.keyId, privateKey);
    expect(followers.status).toBe(200);
    expect((followers.body as { totalItems: number }).totalItems).toBe(3);
    const page = await signedGet(`${m.url}/users/ada/followers?page=1`, host.keyId, privateKey);
    expect((page.body as { orderedItems: string[] }).orderedItems).toHaveLength(3);
    expect(host.served()).toBe(1);
  });

  it("refuses a signature made with another key than the keyId's", async () => {
    const m = await start({ authorizedFetch: true });
    const served = keyPair();
    const other = keyPair();
    const host = await keyHost(served.publicKey);
    const r = await signedGet(`${m.url}/users/ada`, host.keyId, other.privateKey);
    expect(r.status).toBe(401);
    expect((r.body as { error: string }).error).toMatch(/^Verification failed for /);
  });

  it("refuses a signer whose WebFinger doesn't loop back to its actor", async () => {
    const m = await start({ authorizedFetch: true });
    const { publicKey, privateKey } = keyPair();
    const host = await keyHost(publicKey, { webfinger: false });
    const r = await signedGet(`${m.url}/users/ada`, host.keyId, privateKey);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: `Public key not found for key ${host.keyId}` });
  });

  it("refuses a keyId whose key can't be found", async () => {
    const m = await start({ authorizedFetch: true });
    const { privateKey } = keyPair();
    const keyId = "http://127.0.0.1:9/actor#main-key";
    const r = await signedGet(`${m.url}/users/ada`, keyId, privateKey);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: `Public key not found for key ${keyId}` });
  });

  it("refuses a Date outside the window: over an hour ahead, or older than 5 minutes and an hour", async () => {
    const m = await start({ authorizedFetch: true });
    const { publicKey, privateKey } = keyPair();
    const host = await keyHost(publicKey);
    const window = { error: "Signed request date outside acceptable time window" };
    const url = `${m.url}/users/ada`;
    expect((await signedGet(url, host.keyId, privateKey, Date.now() - 66 * 60_000)).body).toEqual(
      window,
    );
    expect((await signedGet(url, host.keyId, privateKey, Date.now() + 61 * 60_000)).body).toEqual(
      window,
    );
    expect((await signedGet(url, host.keyId, privateKey, Date.now() - 30 * 60_000)).status).toBe(
      200,
    );
  });

  it("insists on (request-target), host and date being signed on a GET", async () => {
    const m = await start({ authorizedFetch: true });
    const { publicKey, privateKey } = keyPair();
    const host = await keyHost(publicKey);
    const url = new URL(`${m.url}/users/ada`);
    const date = new Date().toUTCString();
    const noHost = handSigned(host.keyId, privateKey, [
      ["(request-target)", "get /users/ada"],
      ["date", date],
    ]);
    const r = await get(url.href, { ...noHost, date });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({
      error: "Mastodon requires the Host header to be signed when doing a GET request",
    });
    const otherPath = handSigned(host.keyId, privateKey, [
      ["(request-target)", "get /users/bob"],
      ["host", url.host],
      ["date", date],
    ]);
    expect((await get(url.href, { ...otherPath, date })).status).toBe(401);
  });

  it("checks a signed Digest against the body", async () => {
    const m = await start({ authorizedFetch: true });
    const { publicKey, privateKey } = keyPair();
    const host = await keyHost(publicKey);
    const url = new URL(`${m.url}/users/ada`);
    const date = new Date().toUTCString();
    const lines = (digest: string): [string, string][] => [
      ["(request-target)", "get /users/ada"],
      ["host", url.host],
      ["date", date],
      ["digest", digest],
    ];
    const wrong = `SHA-256=${createHash("sha256").update("not this body").digest("base64")}`;
    const refused = await get(url.href, {
      ...handSigned(host.keyId, privateKey, lines(wrong)),
      date,
      digest: wrong,
    });
    expect(refused.status).toBe(401);
    expect((refused.body as { error: string }).error).toMatch(/^Invalid Digest value/);
    const right = `SHA-256=${createHash("sha256").update("").digest("base64")}`;
    const served = await get(url.href, {
      ...handSigned(host.keyId, privateKey, lines(right)),
      date,
      digest: right,
    });
    expect(served.status).toBe(200);
  });
});

describe("closed API (closedApi)", () => {
  it("refuses tokenless lookup and follower lists with Mastodon's 401; instance and apps stay open", async () => {
    const m = await start({ closedApi: "unauthenticated" });
    const id = m.getAccount("ada")!.id;
    for (const path of [
      "/api/v1/accounts/lookup?acct=ada",
      `/api/v1/accounts/${id}`,
      `/api/v1/accounts/${id}/followers`,
    ]) {
      const r = await get(`${m.url}${path}`);
      expect(r.status, path).toBe(401);
      expect(r.body, path).toEqual({ error: "This API requires an authenticated user" });
    }
    expect((await get(`${m.url}/api/v2/instance`)).status).toBe(200);
    expect((await get(`${m.url}/api/v1/instance`)).status).toBe(200);
    const app = await fetch(`${m.url}/api/v1/apps`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "x", redirect_uris: "urn:ietf:wg:oauth:2.0:oob" }),
    });
    expect(app.status).toBe(200);
    // ActivityPub is another door: without secure mode it stays open.
    expect((await get(`${m.url}/users/ada/followers`, AP)).status).toBe(200);
  });

  it("answers a user's token; a moved account's token still reads public data, but not its own", async () => {
    const m = await start({ closedApi: "unauthenticated" });
    const token = m.issueToken("ada", ["read"]);
    const auth = { Authorization: `Bearer ${token}` };
    const id = m.getAccount("ada")!.id;
    expect((await get(`${m.url}/api/v1/accounts/${id}/followers`, auth)).status).toBe(200);
    m.moveAccount("ada", "ada@new.example");
    expect((await get(`${m.url}/api/v1/accounts/lookup?acct=ada`, auth)).status).toBe(200);
    const own = await get(`${m.url}/api/v1/accounts/verify_credentials`, auth);
    expect(own.status).toBe(403);
    expect(own.body).toEqual({ error: "Your login is currently disabled" });
  });

  it("in limited federation mode refuses a moved account's token everywhere with 403", async () => {
    const m = await start({ closedApi: "limited-federation" });
    const token = m.issueToken("ada", ["read"]);
    const auth = { Authorization: `Bearer ${token}` };
    expect((await get(`${m.url}/api/v1/accounts/lookup?acct=ada`, auth)).status).toBe(200);
    m.moveAccount("ada", "ada@new.example");
    const id = m.getAccount("ada")!.id;
    for (const path of ["/api/v1/accounts/lookup?acct=ada", `/api/v1/accounts/${id}/followers`]) {
      const r = await get(`${m.url}${path}`, auth);
      expect(r.status, path).toBe(403);
      expect(r.body, path).toEqual({ error: "Your login is currently disabled" });
    }
    expect((await get(`${m.url}/api/v1/accounts/lookup?acct=ada`)).status).toBe(401);
  });
});
