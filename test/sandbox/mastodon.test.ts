import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRestAPIClient, MastoHttpError, MastoTimeoutError } from "masto";
import { describe, expect, it } from "vitest";
import {
  type MastodonSandbox,
  type MastodonSandboxOptions,
  startMastodonSandbox,
} from "../../sandbox/mastodon.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();

async function start(opts: MastodonSandboxOptions = {}): Promise<MastodonSandbox> {
  const sandbox = closing(await startMastodonSandbox(opts));
  return sandbox;
}

/** A sandbox with local "ada" and a read token for her. */
async function withAda(opts: MastodonSandboxOptions = {}) {
  const sb = await start(opts);
  const ada = sb.addAccount({ username: "ada", displayName: "Ada Lovelace" });
  const token = sb.issueToken("ada", ["read"]);
  const client = createRestAPIClient({ url: sb.url, accessToken: token });
  return { sb, ada, token, client };
}

async function rejection(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

async function httpError(p: PromiseLike<unknown>): Promise<MastoHttpError> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(MastoHttpError);
  return err as MastoHttpError;
}

const SERVER_SCRIPT = fileURLToPath(new URL("../../sandbox/mastodon-server.ts", import.meta.url));
const RESET_FORMAT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe("verify_credentials", () => {
  it("returns the CredentialAccount of the token's owner", async () => {
    const { client, ada } = await withAda();
    const me = await client.v1.accounts.verifyCredentials();
    expect(me.id).toBe(ada.id);
    expect(me.acct).toBe("ada");
    expect(me.username).toBe("ada");
    expect(me.displayName).toBe("Ada Lovelace");
    expect(me.source).toMatchObject({ privacy: "public", note: "" });
    expect(me.id).toMatch(/^\d{15,}$/);
  });

  it("omits `moved` for an account that has not moved", async () => {
    const { sb, token } = await withAda();
    const res = await fetch(`${sb.url}/api/v1/accounts/verify_credentials`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = (await res.json()) as Record<string, unknown>;
    expect("moved" in body).toBe(false);
    expect(body).toHaveProperty("source");
  });

  it("accepts read, read:accounts and (4.3+) profile; refuses other scopes with 403", async () => {
    const { sb } = await withAda();
    for (const scopes of [["read"], ["read:accounts"], ["profile"]]) {
      const c = createRestAPIClient({ url: sb.url, accessToken: sb.issueToken("ada", scopes) });
      await expect(c.v1.accounts.verifyCredentials()).resolves.toMatchObject({ acct: "ada" });
    }
    const writeOnly = createRestAPIClient({
      url: sb.url,
      accessToken: sb.issueToken("ada", ["write:follows", "read:follows"]),
    });
    const err = await httpError(writeOnly.v1.accounts.verifyCredentials());
    expect(err.statusCode).toBe(403);
    expect(err.message).toBe("This action is outside the authorized scopes");
  });

  it("does not know the profile scope before 4.3", async () => {
    const sb = await start({ version: "4.2.10" });
    sb.addAccount({ username: "ada" });
    const c = createRestAPIClient({ url: sb.url, accessToken: sb.issueToken("ada", ["profile"]) });
    expect((await httpError(c.v1.accounts.verifyCredentials())).statusCode).toBe(403);
  });

  it("gives 401 with Doorkeeper's messages for bad, missing and revoked tokens", async () => {
    const { sb, token, client } = await withAda();
    const bad = createRestAPIClient({ url: sb.url, accessToken: "not-a-token" });
    let err = await httpError(bad.v1.accounts.verifyCredentials());
    expect(err.statusCode).toBe(401);
    expect(err.message).toBe("The access token is invalid");

    const anonymous = createRestAPIClient({ url: sb.url });
    err = await httpError(anonymous.v1.accounts.verifyCredentials());
    expect(err.statusCode).toBe(401);
    expect(err.message).toBe("The access token is invalid");

    expect(sb.revokeToken(token)).toBe(true);
    err = await httpError(client.v1.accounts.verifyCredentials());
    expect(err.statusCode).toBe(401);
    expect(err.message).toBe("The access token was revoked");
  });

  it("gives 403 'Your login is currently disabled' once the owner has moved", async () => {
    const { sb, client, ada } = await withAda();
    sb.moveAccount("ada", "ada@micro.blog");
    let err = await httpError(client.v1.accounts.verifyCredentials());
    expect(err.statusCode).toBe(403);
    expect(err.message).toBe("Your login is currently disabled");
    err = await httpError(client.v1.accounts.relationships.fetch({ id: [ada.id] }));
    expect(err.statusCode).toBe(403);
    expect(err.message).toBe("Your login is currently disabled");

    // Public reads still work and show `moved` (the nested account has no `moved` of its own).
    const anonymous = createRestAPIClient({ url: sb.url });
    const old = await anonymous.v1.accounts.lookup({ acct: "ada" });
    expect(old.moved?.acct).toBe("ada@micro.blog");
    const raw = (await (await fetch(`${sb.url}/api/v1/accounts/${ada.id}`)).json()) as {
      moved: Record<string, unknown>;
    };
    expect("moved" in raw.moved).toBe(false);
  });
});

describe("accounts", () => {
  it("looks up local and known remote accounts, 404 'Record not found' otherwise", async () => {
    const { sb, client, ada } = await withAda();
    sb.addRemoteAccount("Bob@Example.social");
    expect((await client.v1.accounts.lookup({ acct: "ada" })).id).toBe(ada.id);
    expect((await client.v1.accounts.lookup({ acct: "@ada" })).id).toBe(ada.id);
    expect((await client.v1.accounts.lookup({ acct: `ada@${sb.domain}` })).id).toBe(ada.id);
    const bob = await client.v1.accounts.lookup({ acct: "bob@example.social" });
    expect(bob.acct).toBe("Bob@example.social");

    const err = await httpError(client.v1.accounts.lookup({ acct: "nobody@elsewhere.example" }));
    expect(err.statusCode).toBe(404);
    expect(err.message).toBe("Record not found");

    expect((await client.v1.accounts.$select(ada.id).fetch()).acct).toBe("ada");
    const missing = await httpError(client.v1.accounts.$select("1").fetch());
    expect(missing.statusCode).toBe(404);
    expect(missing.message).toBe("Record not found");
  });

  it("uses the configured domain in URLs, and user@host for remote accounts", async () => {
    const sb = await start({ domain: "old.example" });
    const ada = sb.addAccount({ username: "ada" });
    expect(ada.acct).toBe("ada");
    expect(ada.url).toBe("https://old.example/@ada");
    const [rec] = sb.seedFollows("ada", 1);
    expect(rec?.targetAcct).toMatch(/^friend\d+@[a-z]+\.example$/);
    expect(sb.getAccount(rec!.targetAcct)?.url).toMatch(/^https:\/\/[a-z]+\.example\/@friend\d+$/);
  });
});

describe("following / followers", () => {
  it("walks 1,000 follows once each, newest first, through masto's paginator", async () => {
    const { sb, client, ada } = await withAda();
    const seeded = sb.seedFollows("ada", 1000);
    sb.resetLog();

    const seen: string[] = [];
    let pages = 0;
    for await (const page of client.v1.accounts.$select(ada.id).following.list({ limit: 80 })) {
      pages += 1;
      expect(page.length).toBeLessThanOrEqual(80);
      seen.push(...page.map((a) => a.acct));
    }
    expect(seen).toEqual(seeded.map((f) => f.targetAcct).reverse());
    expect(new Set(seen).size).toBe(1000);
    expect(pages).toBe(13); // 12 full pages + 40; the short page has no `next`

    // The cursors masto followed are Follow ids, not account ids.
    const followIds = new Set(seeded.map((f) => f.id));
    const cursors = sb.requests
      .map((r) => new URL(r.path, sb.url).searchParams.get("max_id"))
      .filter((c): c is string => c !== null);
    expect(cursors).toHaveLength(12);
    for (const c of cursors) expect(followIds.has(c)).toBe(true);
  });

  it("ends with an empty page when the last page is exactly full (as Mastodon does)", async () => {
    const { sb, client, ada } = await withAda();
    sb.seedFollowers("ada", 160);
    sb.resetLog();
    const sizes: number[] = [];
    for await (const page of client.v1.accounts.$select(ada.id).followers.list({ limit: 80 })) {
      sizes.push(page.length);
    }
    expect(sizes).toEqual([80, 80, 0]);
    expect(sb.requests).toHaveLength(3);
  });

  it("writes the Link header like Rails: Follow ids, limit echoed, next only on full pages", async () => {
    const { sb, ada } = await withAda();
    const seeded = sb.seedFollows("ada", 100);
    const newestFirst = [...seeded].reverse();

    const res = await fetch(`${sb.url}/api/v1/accounts/${ada.id}/following?limit=80`);
    const page = (await res.json()) as { id: string }[];
    expect(page).toHaveLength(80);
    const link = res.headers.get("link");
    expect(link).toBe(
      `<${sb.url}/api/v1/accounts/${ada.id}/following?limit=80&max_id=${newestFirst[79]!.id}>; rel="next", ` +
        `<${sb.url}/api/v1/accounts/${ada.id}/following?limit=80&since_id=${newestFirst[0]!.id}>; rel="prev"`,
    );
    expect(page[79]!.id).toBe(newestFirst[79]!.targetAccountId);
    expect(newestFirst[79]!.id).not.toBe(newestFirst[79]!.targetAccountId);

    const last = await fetch(
      `${sb.url}/api/v1/accounts/${ada.id}/following?limit=80&max_id=${newestFirst[79]!.id}`,
    );
    expect(await last.json()).toHaveLength(20);
    expect(last.headers.get("link")).toBe(
      `<${sb.url}/api/v1/accounts/${ada.id}/following?limit=80&since_id=${newestFirst[80]!.id}>; rel="prev"`,
    );

    // Past the end: [] and no Link at all.
    const empty = await fetch(
      `${sb.url}/api/v1/accounts/${ada.id}/following?max_id=${seeded[0]!.id}`,
    );
    expect(await empty.json()).toEqual([]);
    expect(empty.headers.get("link")).toBeNull();
  });

  it("clamps limit to 80 (keeping limit=200 in the links), defaults to 40", async () => {
    const { sb, ada } = await withAda();
    sb.seedFollows("ada", 300);
    const big = await fetch(`${sb.url}/api/v1/accounts/${ada.id}/following?limit=200`);
    expect(await big.json()).toHaveLength(80);
    expect(big.headers.get("link")).toMatch(/following\?limit=200&max_id=\d+>; rel="next"/);

    const plain = await fetch(`${sb.url}/api/v1/accounts/${ada.id}/following`);
    expect(await plain.json()).toHaveLength(40);
    expect(plain.headers.get("link")).toMatch(
      /^<http:\/\/127\.0\.0\.1:\d+\/api\/v1\/accounts\/\d+\/following\?max_id=\d+>; rel="next", <http:\/\/127\.0\.0\.1:\d+\/api\/v1\/accounts\/\d+\/following\?since_id=\d+>; rel="prev"$/,
    );

    const negative = await fetch(`${sb.url}/api/v1/accounts/${ada.id}/following?limit=-5`);
    expect(await negative.json()).toHaveLength(5);
    // limit=0 makes Mastodon call .id on nil while writing the Link header.
    const zero = await fetch(`${sb.url}/api/v1/accounts/${ada.id}/following?limit=0`);
    expect(zero.status).toBe(500);
  });

  it("honours since_id (newest above it) and ignores min_id, like the real controller", async () => {
    const { sb, ada } = await withAda();
    const seeded = sb.seedFollows("ada", 50);
    const url = `${sb.url}/api/v1/accounts/${ada.id}/following`;
    const since = (await (await fetch(`${url}?limit=5&since_id=${seeded[9]!.id}`)).json()) as {
      id: string;
    }[];
    expect(since.map((a) => a.id)).toEqual(
      seeded
        .slice(45)
        .reverse()
        .map((f) => f.targetAccountId),
    );
    const min = (await (await fetch(`${url}?limit=5&min_id=${seeded[9]!.id}`)).json()) as {
      id: string;
    }[];
    expect(min.map((a) => a.id)).toEqual(since.map((a) => a.id));
  });

  it("returns [] for hidden collections unless the owner asks", async () => {
    const { sb, client } = await withAda();
    const bob = sb.addAccount({ username: "bob", hideCollections: true });
    sb.seedFollows("bob", 10);
    sb.seedFollowers("bob", 10);

    expect(await client.v1.accounts.$select(bob.id).following.list()).toEqual([]);
    const anonymous = createRestAPIClient({ url: sb.url });
    expect(await anonymous.v1.accounts.$select(bob.id).followers.list()).toEqual([]);
    const res = await fetch(`${sb.url}/api/v1/accounts/${bob.id}/following`);
    expect(res.headers.get("link")).toBeNull();

    const owner = createRestAPIClient({ url: sb.url, accessToken: sb.issueToken("bob") });
    expect(await owner.v1.accounts.$select(bob.id).following.list()).toHaveLength(10);
    // followers_count is still public.
    expect((await anonymous.v1.accounts.lookup({ acct: "bob" })).followersCount).toBe(10);
  });

  it("is public, but a revoked token is refused (Doorkeeper finds it) while an unknown one is ignored", async () => {
    const { sb, ada, token } = await withAda();
    sb.seedFollows("ada", 3);
    const unknown = createRestAPIClient({ url: sb.url, accessToken: "garbage" });
    expect(await unknown.v1.accounts.$select(ada.id).following.list()).toHaveLength(3);
    sb.revokeToken(token);
    const revoked = createRestAPIClient({ url: sb.url, accessToken: token });
    const err = await httpError(revoked.v1.accounts.$select(ada.id).following.list());
    expect(err.statusCode).toBe(401);
  });
});

describe("relationships", () => {
  it("answers 80 ids with every field, omitting unknown ids", async () => {
    const { sb, client } = await withAda();
    const follows = sb.seedFollows("ada", 75);
    const fans = sb.seedFollowers("ada", 4);
    const pending = sb.follow("ada", "carol@locked.example", { pending: true, notify: true });
    const ids = [
      ...follows.map((f) => f.targetAccountId),
      ...fans.map((f) => f.accountId),
      pending.targetAccountId,
    ];
    expect(ids).toHaveLength(80);

    const rels = await client.v1.accounts.relationships.fetch({ id: [...ids, "424242"] });
    expect(rels).toHaveLength(80);
    expect(rels.map((r) => r.id)).toEqual(ids);
    follows.forEach((f, i) => {
      expect(rels[i]).toMatchObject({
        following: true,
        showingReblogs: f.showReblogs,
        notifying: f.notify,
        languages: f.languages,
        followedBy: false,
        requested: false,
      });
    });
    expect(follows.some((f) => !f.showReblogs)).toBe(true);
    expect(follows.some((f) => f.notify)).toBe(true);
    expect(follows.some((f) => f.languages?.join() === "en,de")).toBe(true);
    expect(rels[76]).toMatchObject({ following: false, followedBy: true, languages: null });
    expect(rels[79]).toMatchObject({ following: false, requested: true, notifying: true });

    const raw = await fetch(
      `${sb.url}/api/v1/accounts/relationships?id=${encodeURIComponent(ids[0]!)}`,
      { headers: { Authorization: `Bearer ${sb.issueToken("ada", ["read:follows"])}` } },
    );
    const [one] = (await raw.json()) as Record<string, unknown>[];
    expect(Object.keys(one!)).toEqual([
      "id",
      "following",
      "showing_reblogs",
      "notifying",
      "languages",
      "followed_by",
      "blocking",
      "blocked_by",
      "muting",
      "muting_notifications",
      "requested",
      "requested_by",
      "domain_blocking",
      "endorsed",
      "note",
    ]);
  });

  it("needs a token with read or read:follows", async () => {
    const { sb, ada } = await withAda();
    const anonymous = createRestAPIClient({ url: sb.url });
    expect(
      (await httpError(anonymous.v1.accounts.relationships.fetch({ id: [ada.id] }))).statusCode,
    ).toBe(401);
    const c = createRestAPIClient({
      url: sb.url,
      accessToken: sb.issueToken("ada", ["read:accounts"]),
    });
    const err = await httpError(c.v1.accounts.relationships.fetch({ id: [ada.id] }));
    expect(err.statusCode).toBe(403);
    expect(err.message).toBe("This action is outside the authorized scopes");
  });
});

describe("rate limits", () => {
  it("429s the 6th request in a 5-per-window budget, then recovers at the window boundary", async () => {
    let now = Date.UTC(2026, 10, 27, 10, 3, 27, 250);
    const { sb, token, client } = await withAda({
      rateLimit: { limit: 5, windowMs: 300_000 },
      now: () => now,
    });
    const auth = { headers: { Authorization: `Bearer ${token}` } };
    for (let i = 1; i <= 5; i++) {
      const res = await fetch(`${sb.url}/api/v1/accounts/verify_credentials`, auth);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit")).toBe("5");
      expect(res.headers.get("x-ratelimit-remaining")).toBe(String(5 - i));
      // now + (period - now.to_i % period), so the sub-second part of "now" is kept
      expect(res.headers.get("x-ratelimit-reset")).toBe("2026-11-27T10:05:00.250000Z");
    }

    const err = await httpError(client.v1.accounts.verifyCredentials());
    expect(err.statusCode).toBe(429);
    expect(err.message).toBe("Too many requests");
    const response = err.cause as Response;
    expect(response.headers.get("x-ratelimit-limit")).toBe("5");
    expect(response.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(response.headers.get("x-ratelimit-reset")).toBe("2026-11-27T10:05:00.250000Z");

    const raw = await fetch(`${sb.url}/api/v1/accounts/verify_credentials`, auth);
    expect(raw.status).toBe(429);
    expect(raw.headers.get("content-type")).toBe("application/json");
    expect(await raw.text()).toBe('{"error":"Too many requests"}');

    // Another caller (no token → per-IP budget) is unaffected.
    const anon = await fetch(`${sb.url}/api/v1/instance`);
    expect(anon.status).toBe(200);
    expect(anon.headers.get("x-ratelimit-remaining")).toBe("4");

    now = Date.UTC(2026, 10, 27, 10, 5, 0, 1);
    const after = await fetch(`${sb.url}/api/v1/accounts/verify_credentials`, auth);
    expect(after.status).toBe(200);
    expect(after.headers.get("x-ratelimit-remaining")).toBe("4");
    expect(after.headers.get("x-ratelimit-reset")).toBe("2026-11-27T10:10:00.001000Z");
  });

  it("recovers after the reset time it announced (real clock)", async () => {
    const { sb, client } = await withAda({ rateLimit: { limit: 2, windowMs: 1000 } });
    let err: MastoHttpError | undefined;
    for (let i = 0; i < 6 && !err; i++) {
      try {
        await client.v1.accounts.verifyCredentials();
      } catch (e) {
        err = e as MastoHttpError;
      }
    }
    expect(err?.statusCode).toBe(429);
    const reset = Date.parse((err!.cause as Response).headers.get("x-ratelimit-reset")!);
    await new Promise((r) => setTimeout(r, Math.max(0, reset - Date.now()) + 20));
    await expect(client.v1.accounts.verifyCredentials()).resolves.toMatchObject({ acct: "ada" });
    expect(sb.requests.some((r) => r.status === 429)).toBe(true);
  });

  it("sends the headers on every Api response (200, 401, 404), not on the HTML catch-all", async () => {
    const { sb } = await withAda();
    for (const path of [
      "/api/v1/instance",
      "/api/v2/instance",
      "/api/v1/accounts/verify_credentials",
      "/api/v1/accounts/lookup?acct=ghost",
    ]) {
      const res = await fetch(`${sb.url}${path}`);
      expect(res.headers.get("x-ratelimit-limit"), path).toBe("300");
      expect(Number(res.headers.get("x-ratelimit-remaining")), path).toBeLessThan(300);
      expect(res.headers.get("x-ratelimit-reset"), path).toMatch(RESET_FORMAT);
    }
    const html = await fetch(`${sb.url}/api/v1/no_such_thing`);
    expect(html.status).toBe(404);
    expect(html.headers.get("x-ratelimit-limit")).toBeNull();
  });

  it("counts paging requests in their own budget and reports the tighter limit", async () => {
    let now = Date.UTC(2026, 10, 27, 10, 7, 0, 0);
    const { sb, ada, token } = await withAda({
      rateLimit: { limit: 100, windowMs: 300_000, paging: { limit: 3, windowMs: 900_000 } },
      now: () => now,
    });
    const rec = sb.seedFollows("ada", 10);
    const auth = { headers: { Authorization: `Bearer ${token}` } };
    const paged = `${sb.url}/api/v1/accounts/${ada.id}/following?max_id=${rec[9]!.id}`;
    for (let i = 1; i <= 3; i++) {
      const res = await fetch(paged, auth);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit")).toBe("3");
      expect(res.headers.get("x-ratelimit-remaining")).toBe(String(3 - i));
      expect(res.headers.get("x-ratelimit-reset")).toBe("2026-11-27T10:15:00.000000Z");
    }
    const refused = await fetch(paged, auth);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("x-ratelimit-limit")).toBe("3");
    // Non-paging requests still go through, reporting the 5-minute budget.
    const first = await fetch(`${sb.url}/api/v1/accounts/${ada.id}/following`, auth);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit")).toBe("100");
    expect(first.headers.get("x-ratelimit-reset")).toBe("2026-11-27T10:10:00.000000Z");
    now += 8 * 60_000;
    expect((await fetch(paged, auth)).status).toBe(200);
  });

  it("keeps separate budgets per token and per client IP (X-Forwarded-For via a trusted proxy)", async () => {
    const { sb } = await withAda({ rateLimit: { limit: 1, windowMs: 60_000 } });
    const a = await fetch(`${sb.url}/api/v1/instance`, {
      headers: { "X-Forwarded-For": "203.0.113.5" },
    });
    const b = await fetch(`${sb.url}/api/v1/instance`, {
      headers: { "X-Forwarded-For": "203.0.113.6" },
    });
    const a2 = await fetch(`${sb.url}/api/v1/instance`, {
      headers: { "X-Forwarded-For": "203.0.113.5" },
    });
    expect([a.status, b.status, a2.status]).toEqual([200, 200, 429]);
    const t1 = sb.issueToken("ada");
    const t2 = sb.issueToken("ada");
    const call = (t: string) =>
      fetch(`${sb.url}/api/v1/accounts/verify_credentials`, {
        headers: { Authorization: `Bearer ${t}` },
      }).then((r) => r.status);
    expect([await call(t1), await call(t2), await call(t1)]).toEqual([200, 200, 429]);
  });

  it("can be switched off (no throttle data, no headers), like Mastodon's localhost safelist", async () => {
    const { sb } = await withAda({ rateLimit: null });
    const res = await fetch(`${sb.url}/api/v1/instance`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-limit")).toBeNull();
  });
});

describe("faults and latency", () => {
  it("failNext 502 serves nginx's HTML page, then recovers", async () => {
    const { sb, client } = await withAda();
    sb.failNext(1, { status: 502 });
    const res = await fetch(`${sb.url}/api/v1/instance`);
    expect(res.status).toBe(502);
    expect(res.headers.get("content-type")).toBe("text/html");
    const text = await res.text();
    expect(text).toContain("<title>502 Bad Gateway</title>");
    expect(text).toContain("nginx");
    expect((await fetch(`${sb.url}/api/v1/instance`)).status).toBe(200);

    // masto 7.12 cannot read an HTML error page: it throws a TypeError, not a MastoHttpError.
    sb.failNext(1, { status: 502 });
    const err = await rejection(client.v1.accounts.verifyCredentials());
    expect(err).not.toBeInstanceOf(MastoHttpError);
    expect(err).toBeInstanceOf(TypeError);
  });

  it("failNext with a JSON body and a path filter; 503 defaults to nginx HTML", async () => {
    const { sb, client } = await withAda();
    sb.failNext(2, {
      status: 503,
      body: '{"error":"down for maintenance"}',
      path: "/api/v1/accounts",
    });
    expect((await fetch(`${sb.url}/api/v1/instance`)).status).toBe(200);
    const err = await httpError(client.v1.accounts.verifyCredentials());
    expect(err.statusCode).toBe(503);
    expect(err.message).toBe("down for maintenance");
    expect((await fetch(`${sb.url}/api/v1/accounts/lookup?acct=ada`)).status).toBe(503);
    expect((await fetch(`${sb.url}/api/v1/accounts/lookup?acct=ada`)).status).toBe(200);

    sb.failNext(1, { status: 503 });
    const res = await fetch(`${sb.url}/api/v1/instance`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("503 Service Temporarily Unavailable");
  });

  it("hang never answers, so the client's timeout fires; drop resets the connection", async () => {
    const { sb, token } = await withAda();
    sb.failNext(1, { hang: true });
    const impatient = createRestAPIClient({ url: sb.url, accessToken: token, timeout: 300 });
    const err = await rejection(impatient.v1.accounts.verifyCredentials());
    expect(err).toBeInstanceOf(MastoTimeoutError);
    await new Promise((r) => setTimeout(r, 50));
    expect(sb.requests.at(-1)?.status).toBe(0);

    sb.failNext(1, { drop: true });
    await expect(fetch(`${sb.url}/api/v1/instance`)).rejects.toThrow(/fetch failed/);
    expect((await fetch(`${sb.url}/api/v1/instance`)).status).toBe(200);
  });

  it("applies latency to every request", async () => {
    const { sb, client } = await withAda();
    sb.setLatency(150);
    const t0 = performance.now();
    await client.v1.accounts.verifyCredentials();
    await fetch(`${sb.url}/api/v1/instance`);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(sb.requests.every((r) => r.durationMs >= 140)).toBe(true);
    sb.setLatency(0);
    const t1 = performance.now();
    await client.v1.accounts.verifyCredentials();
    expect(performance.now() - t1).toBeLessThan(140);
  });
});

describe("routing, instance, nodeinfo, log", () => {
  it("answers unknown routes and wrong methods with Rails' 404 (HTML, or JSON when asked)", async () => {
    const { sb, token } = await withAda();
    const html = await fetch(`${sb.url}/api/v1/nonexistent`);
    expect(html.status).toBe(404);
    expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await html.text()).toContain("The page you are looking for isn't here.");

    const json = await fetch(`${sb.url}/api/v1/nonexistent`, {
      headers: { Accept: "application/json" },
    });
    expect(json.status).toBe(404);
    expect(await json.json()).toEqual({ error: "Not Found" });

    const post = await fetch(`${sb.url}/api/v1/accounts/verify_credentials`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
    expect(post.status).toBe(404);
    // An unknown id is an Api controller's RecordNotFound: JSON with "Record not found".
    const id = await fetch(`${sb.url}/api/v1/accounts/12345`);
    expect(await id.json()).toEqual({ error: "Record not found" });
  });

  it("serves instance v1/v2 and nodeinfo with the configured version", async () => {
    const sb = await start({ version: "4.3.2", maxCharacters: 1000 });
    const client = createRestAPIClient({ url: sb.url });
    const v2 = await client.v2.instance.fetch();
    expect(v2.version).toBe("4.3.2");
    expect(v2.domain).toBe(sb.domain);
    expect(v2.configuration.statuses.maxCharacters).toBe(1000);
    expect(v2.configuration.statuses.charactersReservedPerUrl).toBe(23);
    const v1 = await client.v1.instance.fetch();
    expect(v1.version).toBe("4.3.2");
    expect(v1.uri).toBe(sb.domain);

    const wellKnown = (await (await fetch(`${sb.url}/.well-known/nodeinfo`)).json()) as {
      links: { rel: string; href: string }[];
    };
    expect(wellKnown.links[0]?.rel).toBe("http://nodeinfo.diaspora.software/ns/schema/2.0");
    const nodeinfo = (await (await fetch(wellKnown.links[0]!.href)).json()) as {
      software: { name: string; version: string };
      metadata: unknown;
    };
    expect(nodeinfo.software).toEqual({ name: "mastodon", version: "4.3.2" });
    // Upstream's metadata is empty: NodeInfo can't tell whether a server follows a Move.
    expect(nodeinfo.metadata).toEqual({});

    const old = await start({ version: "3.5.3" });
    expect((await fetch(`${old.url}/api/v2/instance`)).status).toBe(404);
    await old.close();
  });

  it("logs method, path, status and token id; resetLog clears it", async () => {
    const { sb, client, token } = await withAda();
    await client.v1.accounts.verifyCredentials();
    await fetch(`${sb.url}/api/v1/instance?x=1`);
    expect(sb.requests).toHaveLength(2);
    expect(sb.requests[0]).toMatchObject({
      method: "GET",
      path: "/api/v1/accounts/verify_credentials",
      status: 200,
      tokenId: expect.stringMatching(/^\d+$/),
    });
    expect(sb.requests[1]).toMatchObject({ path: "/api/v1/instance?x=1", tokenId: null });
    expect(typeof sb.requests[0]!.time).toBe("number");
    sb.revokeToken(token);
    sb.resetLog();
    expect(sb.requests).toHaveLength(0);
  });

  it("seeds 10,000 follows quickly", async () => {
    const sb = await start();
    sb.addAccount({ username: "ada" });
    const t0 = performance.now();
    const rec = sb.seedFollows("ada", 10_000);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(rec).toHaveLength(10_000);
    expect(new Set(rec.map((r) => r.targetAcct.split("@")[1])).size).toBeGreaterThan(3);
    expect(sb.getAccount("ada")?.following_count).toBe(10_000);
  });
});

describe("control endpoints", () => {
  it("seed and steer a sandbox over HTTP", async () => {
    const sb = await start();
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${sb.url}/_sandbox/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const ada = await post("accounts", { username: "ada", hideCollections: false });
    expect(ada.status).toBe(201);
    expect(ada.body.acct).toBe("ada");
    expect((await post("accounts", { username: "not valid!" })).status).toBe(400);
    expect((await post("seed-follows", { username: "ada", n: 90 })).body).toEqual({ count: 90 });
    expect((await post("seed-followers", { username: "ada", n: 5 })).body).toEqual({ count: 5 });
    const rec = await post("follows", {
      follower: "ada",
      target: "zed@far.example",
      notify: true,
      languages: ["en"],
    });
    expect(rec.body).toMatchObject({ targetAcct: "zed@far.example", notify: true });
    const { token } = (await post("tokens", { username: "ada", scopes: ["read"] })).body as {
      token: string;
    };
    const client = createRestAPIClient({ url: sb.url, accessToken: token });
    const me = await client.v1.accounts.verifyCredentials();
    expect(me.followingCount).toBe(91);
    expect(me.followersCount).toBe(5);

    await post("rate-limit", { limit: 1, windowMs: 60_000 });
    expect((await fetch(`${sb.url}/api/v1/instance`)).status).toBe(200);
    expect((await fetch(`${sb.url}/api/v1/instance`)).status).toBe(429);
    await post("rate-limit", null);
    await post("fail-next", { n: 1, status: 502 });
    expect((await fetch(`${sb.url}/api/v1/instance`)).status).toBe(502);
    await post("latency", { ms: 0 });

    const log = (await (await fetch(`${sb.url}/_sandbox/requests`)).json()) as unknown[];
    expect(log.length).toBeGreaterThanOrEqual(4);
    await post("reset-log", {});
    expect(await (await fetch(`${sb.url}/_sandbox/requests`)).json()).toEqual([]);

    await post("move", { username: "ada", target: "ada@micro.blog" });
    expect((await httpError(client.v1.accounts.verifyCredentials())).statusCode).toBe(403);
    expect((await post("revoke-token", { token })).body).toEqual({ revoked: true });
  });

  it("mastodon-server.ts starts a seeded sandbox and stops on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", SERVER_SCRIPT, "--port", "0", "--seed", "demo"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
      });
      const { url, token } = JSON.parse(line) as { url: string; token: string };
      const client = createRestAPIClient({ url, accessToken: token });
      const me = await client.v1.accounts.verifyCredentials();
      expect(me.acct).toBe("ada");
      expect(me.followingCount).toBe(200);
      expect(me.followersCount).toBe(500);
    } finally {
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  });
});
