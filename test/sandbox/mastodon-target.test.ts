import { createRestAPIClient, MastoHttpError } from "masto";
import { describe, expect, it } from "vitest";
import {
  type MastodonRelationship,
  type MastodonSandbox,
  type MastodonSandboxOptions,
  startMastodonSandbox,
} from "../../sandbox/mastodon.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();

/** A sandbox (the server the user moves to) with local "bob" and a token for him. */
async function withBob(
  opts: MastodonSandboxOptions = {},
  scopes = ["read", "write:follows", "read:search"],
) {
  const sandbox = closing(await startMastodonSandbox({ domain: "new.example", ...opts }));
  const sb = sandbox;
  const bob = sb.addAccount({ username: "bob", displayName: "Bob" });
  const token = sb.issueToken("bob", scopes);
  const client = createRestAPIClient({ url: sb.url, accessToken: token });
  const call = async (method: string, path: string, body?: unknown, tok: string | null = token) => {
    const headers: Record<string, string> = {};
    if (tok) headers.Authorization = `Bearer ${tok}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(`${sb.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { res, status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const follow = (id: string, body: unknown = {}) =>
    call("POST", `/api/v1/accounts/${id}/follow`, body);
  const relationship = async (id: string) => {
    const { body } = await call("GET", `/api/v1/accounts/relationships?id[]=${id}`);
    return (body as unknown as MastodonRelationship[])[0]!;
  };
  return { sb, bob, token, client, call, follow, relationship };
}

async function httpError(p: PromiseLike<unknown>): Promise<MastoHttpError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MastoHttpError);
    return err as MastoHttpError;
  }
  throw new Error("expected the promise to reject");
}

describe("GET /api/v2/search", () => {
  it("resolves an unknown remote handle with resolve=true (user token), after which lookup knows it", async () => {
    const { sb, client } = await withBob();
    sb.addResolvable("friend@far.example", { displayName: "Friend", followersCount: 12 });

    // Not known yet: lookup is 404 and a search without resolve finds nothing.
    expect(
      (await httpError(client.v1.accounts.lookup({ acct: "friend@far.example" }))).statusCode,
    ).toBe(404);
    const plain = await client.v2.search.list({ q: "friend@far.example", type: "accounts" });
    expect(plain.accounts).toEqual([]);

    const found = await client.v2.search.list({
      q: "@friend@far.example",
      type: "accounts",
      resolve: true,
    });
    expect(found.accounts).toHaveLength(1);
    expect(found.accounts[0]).toMatchObject({
      acct: "friend@far.example",
      displayName: "Friend",
      followersCount: 12,
      uri: "https://far.example/users/friend",
    });
    expect(found.statuses).toEqual([]);
    expect(found.hashtags).toEqual([]);
    expect((await client.v1.accounts.lookup({ acct: "friend@far.example" })).id).toBe(
      found.accounts[0]!.id,
    );
    // Known now, so found without resolve too.
    const again = await client.v2.search.list({ q: "friend@far.example", type: "accounts" });
    expect(again.accounts.map((a) => a.id)).toEqual([found.accounts[0]!.id]);
  });

  it("finds nothing on an unknown domain or for an unknown user, even with resolve", async () => {
    const { client } = await withBob();
    for (const q of ["nobody@nowhere.example", "ghost@far.example"]) {
      const r = await client.v2.search.list({ q, type: "accounts", resolve: true });
      expect(r.accounts).toEqual([]);
    }
  });

  it("answers as Mastodon without a user token, with the wrong scope, and without q", async () => {
    const { call, sb } = await withBob();
    sb.addResolvable("friend@far.example");
    const q = "/api/v2/search?q=friend%40far.example&type=accounts";

    let r = await call("GET", `${q}&resolve=true`, undefined, null);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({
      error:
        "Search queries that resolve remote resources are not supported without authentication",
    });
    r = await call("GET", `${q}&offset=5`, undefined, null);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe("Search queries pagination is not supported without authentication");
    // Without resolve it is public: known accounts only.
    r = await call("GET", q, undefined, null);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ accounts: [], statuses: [], hashtags: [] });

    const writeOnly = sb.issueToken("bob", ["write:follows"]);
    r = await call("GET", `${q}&resolve=true`, undefined, writeOnly);
    expect(r.status).toBe(403);
    expect(r.body.error).toBe("This action is outside the authorized scopes");
    for (const scopes of [["read"], ["read:search"]]) {
      r = await call("GET", `${q}&resolve=true`, undefined, sb.issueToken("bob", scopes));
      expect(r.status).toBe(200);
      expect((r.body.accounts as unknown[]).length).toBe(1);
    }

    r = await call("GET", "/api/v2/search?type=accounts");
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("param is missing or the value is empty: q");
    r = await call("GET", "/api/v2/search?q=bob&limit=-1");
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("Pagination values for `offset` and `limit` must be positive");
  });

  it("matches by prefix without the domain, leaving moved accounts out of non-exact results", async () => {
    const { sb, client } = await withBob();
    sb.addRemoteAccount("alice@one.example", { followersCount: 10 });
    sb.addRemoteAccount("alicia@two.example", { followersCount: 50 });
    sb.addRemoteAccount("alina@three.example");
    sb.addAccount({ username: "alisha" });
    sb.moveAccount("alisha", "alina@three.example");
    const r = await client.v2.search.list({ q: "ali", type: "accounts" });
    expect(r.accounts.map((a) => a.acct)).toEqual([
      "alicia@two.example",
      "alice@one.example",
      "alina@three.example",
    ]);
    // The exact match is not filtered: a moved account is found by its full handle.
    const exact = await client.v2.search.list({ q: "alisha@new.example", type: "accounts" });
    expect(exact.accounts[0]?.acct).toBe("alisha");
    expect(exact.accounts[0]?.moved?.acct).toBe("alina@three.example");
  });

  it("resolves a remote account that has moved and shows `moved`", async () => {
    const { sb, client } = await withBob();
    sb.addResolvable("old@far.example", { moved: "new@near.example" });
    const r = await client.v2.search.list({
      q: "old@far.example",
      type: "accounts",
      resolve: true,
    });
    expect(r.accounts[0]?.moved?.acct).toBe("new@near.example");
  });
});

describe("POST /api/v1/accounts/:id/follow", () => {
  it("answers optimistically for an unlocked remote account while relationships say requested", async () => {
    const { sb, client, follow, relationship } = await withBob();
    sb.addResolvable("friend@far.example");
    const [friend] = (await client.v2.search.list({ q: "friend@far.example", resolve: true }))
      .accounts;

    const r = await follow(friend!.id, { reblogs: false, notify: true, languages: ["en", "de"] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: friend!.id,
      following: true,
      requested: false,
      showing_reblogs: false,
      notifying: true,
      languages: ["en", "de"],
    });

    expect(await relationship(friend!.id)).toMatchObject({
      following: false,
      requested: true,
      showing_reblogs: false,
      notifying: true,
    });
    expect((await client.v1.accounts.verifyCredentials()).followingCount).toBe(0);

    expect(sb.acceptPendingFollows()).toBe(1);
    expect(await relationship(friend!.id)).toMatchObject({ following: true, requested: false });
    expect((await client.v1.accounts.verifyCredentials()).followingCount).toBe(1);
  });

  it("masto's follow() gets the same optimistic Relationship", async () => {
    const { sb, client } = await withBob();
    const friend = sb.addRemoteAccount("friend@far.example");
    const rel = await client.v1.accounts.$select(friend.id).follow();
    expect(rel).toMatchObject({ following: true, requested: false, showingReblogs: true });
  });

  it("auto-accepts after the configured delay on the sandbox clock", async () => {
    let now = Date.UTC(2026, 10, 27, 12, 0, 0);
    const { sb, follow, relationship } = await withBob({
      now: () => now,
      autoAcceptFollowsMs: 60_000,
    });
    const friend = sb.addRemoteAccount("friend@far.example");
    const shy = sb.addRemoteAccount("shy@far.example", { locked: true });
    await follow(friend.id);
    await follow(shy.id);
    now += 59_999;
    expect((await relationship(friend.id)).requested).toBe(true);
    now += 1;
    expect(await relationship(friend.id)).toMatchObject({ following: true, requested: false });
    // Locked accounts wait for their owner.
    now += 3_600_000;
    expect(await relationship(shy.id)).toMatchObject({ following: false, requested: true });
    expect(sb.acceptPendingFollows()).toBe(0);
    expect(sb.acceptPendingFollows({ includeLocked: true })).toBe(1);
    expect((await relationship(shy.id)).following).toBe(true);
  });

  it("says requested for a locked account (remote or local); an unlocked local one is followed at once", async () => {
    const { sb, follow, relationship } = await withBob();
    const shy = sb.addRemoteAccount("shy@far.example", { locked: true });
    let r = await follow(shy.id);
    expect(r.body).toMatchObject({ following: false, requested: true });
    const carol = sb.addAccount({ username: "carol", locked: true });
    r = await follow(carol.id);
    expect(r.body).toMatchObject({ following: false, requested: true });
    const dave = sb.addAccount({ username: "dave" });
    r = await follow(dave.id);
    expect(r.body).toMatchObject({ following: true, requested: false });
    expect(await relationship(dave.id)).toMatchObject({ following: true, requested: false });
  });

  it("updates the options of an existing follow without counting a new one", async () => {
    const { sb, follow, relationship } = await withBob({ followLimit: { limit: 5 } });
    const dave = sb.addAccount({ username: "dave" });
    let r = await follow(dave.id);
    expect(r.res.headers.get("x-ratelimit-remaining")).toBe("4");
    r = await follow(dave.id, { notify: "1", languages: ["fr"] });
    expect(r.body).toMatchObject({ following: true, notifying: true, languages: ["fr"] });
    expect(r.res.headers.get("x-ratelimit-remaining")).toBe("4");
    expect(await relationship(dave.id)).toMatchObject({
      following: true,
      notifying: true,
      showing_reblogs: true,
      languages: ["fr"],
    });
    r = await follow(dave.id, { reblogs: "false" });
    expect(r.body).toMatchObject({ showing_reblogs: false, notifying: true, languages: ["fr"] });
  });

  it("refuses moved, blocked and blocking accounts with 403 'This action is not allowed'", async () => {
    const { sb, client, follow, bob, relationship } = await withBob();
    sb.addResolvable("gone@far.example", { moved: "here@near.example" });
    sb.addResolvable("grumpy@far.example");
    sb.addResolvable("muted@blocked.example");
    const resolve = async (q: string) =>
      (await client.v2.search.list({ q, type: "accounts", resolve: true })).accounts[0]!;
    const gone = await resolve("gone@far.example");
    const grumpy = await resolve("grumpy@far.example");
    const other = await resolve("muted@blocked.example");
    sb.block("bob", "grumpy@far.example");
    sb.blockDomain("bob", "blocked.example");

    for (const id of [gone.id, grumpy.id, other.id]) {
      const r = await follow(id);
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ error: "This action is not allowed" });
      expect((await relationship(id)).requested).toBe(false);
    }
    const self = await follow(bob.id);
    expect(self.status).toBe(403);
    expect(self.body.error).toBe("Following your own account is not allowed");
    const missing = await follow("1");
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: "Record not found" });
  });

  it("needs follow, write or write:follows, and a login that isn't disabled by a Move", async () => {
    const { sb, call, follow } = await withBob();
    const friend = sb.addRemoteAccount("friend@far.example");
    const readOnly = sb.issueToken("bob", ["read"]);
    let r = await call("POST", `/api/v1/accounts/${friend.id}/follow`, {}, readOnly);
    expect(r.status).toBe(403);
    expect(r.body.error).toBe("This action is outside the authorized scopes");
    expect(r.res.headers.get("x-ratelimit-limit")).not.toBe("400");
    for (const scope of ["follow", "write", "write:follows"]) {
      r = await call(
        "POST",
        `/api/v1/accounts/${friend.id}/follow`,
        {},
        sb.issueToken("bob", [scope]),
      );
      expect(r.status).toBe(200);
    }
    r = await call("POST", `/api/v1/accounts/${friend.id}/follow`, {}, null);
    expect(r.status).toBe(401);
    sb.moveAccount("bob", "bob@elsewhere.example");
    r = await follow(friend.id);
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: "Your login is currently disabled" });
  });

  it("429s the 401st follow in a day with the follows headers, then allows it after the window boundary", async () => {
    let now = Date.UTC(2026, 10, 27, 15, 30, 12, 500);
    const { sb, follow, relationship } = await withBob({ rateLimit: null, now: () => now });
    const ids: string[] = [];
    for (let i = 0; i < 401; i++) ids.push(sb.addRemoteAccount(`f${i}@far.example`).id);

    for (let i = 0; i < 400; i++) {
      const r = await follow(ids[i]!);
      expect(r.status).toBe(200);
      if (i === 0 || i === 399) {
        expect(r.res.headers.get("x-ratelimit-limit")).toBe("400");
        expect(r.res.headers.get("x-ratelimit-remaining")).toBe(String(399 - i));
        expect(r.res.headers.get("x-ratelimit-reset")).toBe("2026-11-28T00:00:00.500000Z");
      }
    }
    const over = await follow(ids[400]!);
    expect(over.status).toBe(429);
    expect(over.body).toEqual({ error: "Too many requests" });
    expect(over.res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(over.res.headers.get("x-ratelimit-limit")).toBe("400");
    expect(over.res.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(over.res.headers.get("x-ratelimit-reset")).toBe("2026-11-28T00:00:00.500000Z");
    // Nothing was created, and updating an existing follow is still fine.
    expect((await relationship(ids[400]!)).requested).toBe(false);
    expect(sb.acceptPendingFollows()).toBe(400);
    expect((await follow(ids[0]!, { notify: true })).status).toBe(200);

    // The window is fixed (epoch / 24 h): it resets at midnight UTC, not 24 h after the first follow.
    now = Date.UTC(2026, 10, 28, 0, 0, 0, 1);
    const after = await follow(ids[400]!);
    expect(after.status).toBe(200);
    expect(after.res.headers.get("x-ratelimit-remaining")).toBe("399");
    expect(after.res.headers.get("x-ratelimit-reset")).toBe("2026-11-29T00:00:00.001000Z");
  });

  it("lets Rack::Attack's headers stand when they are tighter (override_rate_limit_headers)", async () => {
    const { sb, follow, call } = await withBob();
    const a = sb.addRemoteAccount("a@far.example");
    const b = sb.addRemoteAccount("b@far.example");
    // 300/5 min per token has 299 left, the follows family 399: the token's headers stay.
    let r = await follow(a.id);
    expect(r.res.headers.get("x-ratelimit-limit")).toBe("300");
    expect(r.res.headers.get("x-ratelimit-remaining")).toBe("299");
    // A tighter family wins; other endpoints never get the family's headers.
    await call("POST", "/_sandbox/follow-limit", { limit: 3 });
    r = await follow(b.id);
    expect(r.res.headers.get("x-ratelimit-limit")).toBe("3");
    expect(r.res.headers.get("x-ratelimit-remaining")).toBe("2");
    r = await call("GET", `/api/v1/accounts/relationships?id[]=${b.id}`);
    expect(r.res.headers.get("x-ratelimit-limit")).toBe("300");
  });

  it("unfollow removes a follow or a pending request", async () => {
    const { sb, call, follow, relationship } = await withBob();
    const friend = sb.addRemoteAccount("friend@far.example");
    const dave = sb.addAccount({ username: "dave" });
    await follow(friend.id);
    await follow(dave.id);
    let r = await call("POST", `/api/v1/accounts/${friend.id}/unfollow`);
    expect(r.body).toMatchObject({ following: false, requested: false });
    r = await call("POST", `/api/v1/accounts/${dave.id}/unfollow`);
    expect(r.body).toMatchObject({ following: false, requested: false });
    expect(sb.acceptPendingFollows()).toBe(0);
    expect((await relationship(friend.id)).requested).toBe(false);
  });
});

describe("control endpoints", () => {
  it("register resolvables, accept follows and set the follow limit over HTTP", async () => {
    const { sb, call, client, relationship } = await withBob();
    let r = await call("POST", "/_sandbox/resolvables", {
      acct: "friend@far.example",
      locked: true,
    });
    expect(r.status).toBe(201);
    expect((await call("POST", "/_sandbox/resolvables", { acct: "nohost" })).status).toBe(400);
    const [friend] = (await client.v2.search.list({ q: "friend@far.example", resolve: true }))
      .accounts;
    expect(friend?.locked).toBe(true);
    await call("POST", "/_sandbox/follow-limit", { limit: 1 });
    r = await call("POST", `/api/v1/accounts/${friend!.id}/follow`);
    expect(r.body).toMatchObject({ requested: true });
    r = await call("POST", "/_sandbox/accept-follows", { follower: "bob" });
    expect(r.body).toEqual({ accepted: 0 });
    r = await call("POST", "/_sandbox/accept-follows", { follower: "bob", includeLocked: true });
    expect(r.body).toEqual({ accepted: 1 });
    expect((await relationship(friend!.id)).following).toBe(true);

    const other = sb.addRemoteAccount("other@far.example");
    expect((await call("POST", `/api/v1/accounts/${other.id}/follow`)).status).toBe(429);
    await call("POST", "/_sandbox/reset-follow-limits", {});
    expect((await call("POST", `/api/v1/accounts/${other.id}/follow`)).status).toBe(200);
    await call("POST", "/_sandbox/follow-limit", null);
    const third = sb.addRemoteAccount("third@far.example");
    r = await call("POST", `/api/v1/accounts/${third.id}/follow`);
    expect(r.status).toBe(200);
    expect(r.res.headers.get("x-ratelimit-limit")).toBe("300");

    await call("POST", "/_sandbox/auto-accept", { ms: 0 });
    expect((await relationship(third.id)).following).toBe(true);
  });
});
