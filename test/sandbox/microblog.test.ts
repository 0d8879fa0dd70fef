import { describe, expect, it } from "vitest";
import { type MicroblogSandbox, startMicroblogSandbox } from "../../sandbox/microblog.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MicroblogSandbox>();

async function start(opts: Parameters<typeof startMicroblogSandbox>[0] = {}) {
  return closing(await startMicroblogSandbox(opts));
}

function call(
  sb: MicroblogSandbox,
  path: string,
  init: { method?: string; token?: string; form?: Record<string, string>; accept?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.accept) headers.accept = init.accept;
  let body: string | undefined;
  if (init.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(init.form).toString();
  }
  return fetch(`${sb.url}${path}`, { method: init.method ?? "GET", headers, body });
}

describe("micro.blog sandbox: /account/verify", () => {
  it("answers a valid token with the account, an invalid one with 200 and micro.blog's error", async () => {
    const sb = await start();
    const token = sb.addUser("ada", { name: "Ada Lovelace" });
    const ok = await call(sb, "/account/verify", { method: "POST", form: { token } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      token,
      name: "Ada Lovelace",
      username: "ada",
      avatar: `${sb.url}/ada/avatar.jpg`,
      default_site: "ada.micro.blog",
      expires_at: null,
    });
    const bad = await call(sb, "/account/verify", { method: "POST", form: { token: "NOPE" } });
    expect(bad.status).toBe(200);
    expect(await bad.json()).toEqual({ error: "App token was not valid." });
    const missing = await call(sb, "/account/verify", { method: "POST" });
    expect(await missing.json()).toEqual({ error: "App token was not valid." });
    expect(sb.verifyCount(token)).toBe(1);
    expect(sb.verifyCount("NOPE")).toBe(0);
  });

  it("turns a token verified too often into an expiring one, which later stops working", async () => {
    let now = Date.UTC(2026, 0, 1);
    const sb = await start({ now: () => now });
    const token = sb.addUser("ada");
    const verify = async () =>
      (await (await call(sb, "/account/verify", { method: "POST", form: { token } })).json()) as {
        expires_at?: string | null;
        error?: string;
      };
    for (let k = 0; k < 5; k++) expect((await verify()).expires_at).toBeNull();
    const sixth = await verify();
    expect(typeof sixth.expires_at).toBe("string");
    expect(Date.parse(sixth.expires_at!)).toBeGreaterThan(now);
    expect(sb.verifyCount(token)).toBe(6);
    now = Date.parse(sixth.expires_at!) + 1;
    expect(await verify()).toEqual({ error: "App token was not valid." });
    const api = await call(sb, "/users/is_following?username=ada", { token });
    expect(api.status).toBe(401);
  });
});

describe("micro.blog sandbox: following API", () => {
  it("refuses a missing or unknown token with 401, and accepts Bearer and Token", async () => {
    const sb = await start();
    const token = sb.addUser("ada");
    sb.addUser("bob");
    const none = await call(sb, "/users/is_following?username=bob");
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: "Not authorized." });
    expect((await call(sb, "/users/is_following?username=bob", { token: "X" })).status).toBe(401);
    const asToken = await fetch(`${sb.url}/users/is_following?username=bob`, {
      headers: { authorization: `Token ${token}` },
    });
    expect(await asToken.json()).toEqual({ is_following: false, is_you: false });
  });

  it("follows with the username in the query or in a form body", async () => {
    const sb = await start();
    const token = sb.addUser("ada");
    sb.addUser("bob");
    sb.addRemote("alice@mastodon.example", { exists: true, name: "Alice" });
    const q = await call(sb, "/users/follow?username=bob", { method: "POST", token });
    expect(q.status).toBe(200);
    expect(await q.json()).toEqual({});
    const f = await call(sb, "/users/follow", {
      method: "POST",
      token,
      form: { username: "Alice@Mastodon.example" },
    });
    expect(f.status).toBe(200);
    expect(sb.followingOf("ada")).toEqual(["bob", "alice@mastodon.example"]);
    const is = await call(sb, "/users/is_following?username=alice@mastodon.example", { token });
    expect(await is.json()).toEqual({ is_following: true, is_you: false });
    const me = await call(sb, "/users/is_following?username=ada", { token });
    expect(await me.json()).toEqual({ is_following: false, is_you: true });

    await call(sb, "/users/unfollow?username=bob", { method: "POST", token });
    expect(sb.followingOf("ada")).toEqual(["alice@mastodon.example"]);
  });

  it("doesn't strip a leading @, and answers unknown users with the configured error", async () => {
    const sb = await start();
    const token = sb.addUser("ada");
    sb.addRemote("alice@mastodon.example", { exists: true });
    sb.addRemote("gone@text.example", {
      exists: false,
      errorBody: { status: 400, body: "Error while processing the request." },
    });
    sb.addRemote("gone@html.example", {
      exists: false,
      errorBody: {
        status: 404,
        body: "<html><body><h1>Not found</h1></body></html>",
        contentType: "text/html",
      },
    });
    sb.addRemote("gone@ok.example", {
      exists: false,
      errorBody: { status: 200, body: '{"error":"User could not be found."}' },
    });
    const follow = (username: string) =>
      call(sb, `/users/follow?username=${encodeURIComponent(username)}`, { method: "POST", token });

    const at = await follow("@alice@mastodon.example");
    expect(at.status).toBe(404);
    expect(await at.json()).toEqual({ error: "User not found." });
    expect((await follow("nobody")).status).toBe(404);
    const text = await follow("gone@text.example");
    expect([text.status, text.headers.get("content-type"), await text.text()]).toEqual([
      400,
      "text/plain",
      "Error while processing the request.",
    ]);
    const html = await follow("gone@html.example");
    expect([html.status, html.headers.get("content-type")]).toEqual([404, "text/html"]);
    const ok = await follow("gone@ok.example");
    expect([ok.status, await ok.json()]).toEqual([200, { error: "User could not be found." }]);
    expect(sb.followingOf("ada")).toEqual([]);
    const missing = await call(sb, "/users/follow", { method: "POST", token });
    expect(missing.status).toBe(400);
  });

  it("lists follows with Fediverse usernames as user@instance, and serves a user's JSON Feed", async () => {
    const sb = await start();
    const token = sb.addUser("ada");
    sb.addUser("bob", { name: "Bob" });
    sb.addRemote("alice@mastodon.example", { exists: true, name: "Alice" });
    sb.follow("bob", "alice@mastodon.example");
    sb.follow("bob", "ada");
    sb.follow("ada", "alice@mastodon.example");
    const res = await call(sb, "/users/following/bob", { token });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      {
        name: "Alice",
        url: "https://mastodon.example/@alice",
        avatar: "https://mastodon.example/avatars/alice.png",
        username: "alice@mastodon.example",
        is_following: true,
        is_you: false,
      },
      {
        name: "ada",
        url: "https://ada.micro.blog/",
        avatar: `${sb.url}/ada/avatar.jpg`,
        username: "ada",
        is_following: false,
        is_you: true,
      },
    ]);
    expect((await call(sb, "/users/following/nobody", { token })).status).toBe(404);

    const feed = await call(sb, "/posts/bob", { token });
    const body = (await feed.json()) as { _microblog: Record<string, unknown>; items: unknown[] };
    expect(body._microblog).toMatchObject({ username: "bob", is_following: false, is_you: false });
    expect(body.items).toEqual([]);
    const remote = (await (await call(sb, "/posts/alice@mastodon.example")).json()) as {
      _microblog: { username: string };
    };
    expect(remote._microblog.username).toBe("alice@mastodon.example");
    expect((await call(sb, "/posts/nobody")).status).toBe(404);
  });
});

describe("micro.blog sandbox: rate limit", () => {
  it("answers 403 with an HTML page and no limit headers over the limit, until the window ends", async () => {
    let now = Date.UTC(2026, 0, 1, 0, 0, 30);
    const sb = await start({ now: () => now, rateLimit: { limit: 3, windowMs: 60_000 } });
    const token = sb.addUser("ada");
    for (let k = 0; k < 3; k++) {
      expect((await call(sb, "/users/is_following?username=ada", { token })).status).toBe(200);
    }
    // Control endpoints are neither counted nor logged.
    await fetch(`${sb.url}/_sandbox/requests`);
    const refused = await call(sb, "/users/is_following?username=ada", { token });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toBe("text/html");
    expect(await refused.text()).toContain("403 Forbidden");
    for (const name of ["retry-after", "x-ratelimit-limit", "x-ratelimit-remaining"]) {
      expect(refused.headers.get(name)).toBeNull();
    }
    // Refused requests count too, and every route (even verify and unknown ones) is limited.
    expect((await call(sb, "/account/verify", { method: "POST", form: { token } })).status).toBe(
      403,
    );
    expect(sb.requests.map((r) => r.status)).toEqual([200, 200, 200, 403, 403]);
    expect(sb.requests[3]).toMatchObject({
      method: "GET",
      path: "/users/is_following?username=ada",
      time: now,
      user: "ada",
      resetAt: Date.UTC(2026, 0, 1, 0, 1, 0),
    });
    now = Date.UTC(2026, 0, 1, 0, 1, 0);
    expect((await call(sb, "/users/is_following?username=ada", { token })).status).toBe(200);
    sb.setRateLimit(null);
    for (let k = 0; k < 5; k++) {
      expect((await call(sb, "/users/is_following?username=ada", { token })).status).toBe(200);
    }
    sb.resetLog();
    expect(sb.requests).toEqual([]);
  });
});

describe("micro.blog sandbox: Fediverse side", () => {
  it("serves WebFinger, the actor in micro.blog's shape and NodeInfo", async () => {
    const sb = await start({ domain: "micro.example" });
    sb.addUser("ada", { name: "Ada" });
    const wf = await call(sb, "/.well-known/webfinger?resource=acct:ada@micro.example");
    expect(wf.headers.get("content-type")).toContain("application/jrd+json");
    const jrd = (await wf.json()) as { subject: string; links: { rel: string; href?: string }[] };
    expect(jrd.subject).toBe("acct:ada@micro.example");
    expect(jrd.links.find((l) => l.rel === "self")).toEqual({
      rel: "self",
      type: "application/activity+json",
      href: "https://micro.example/activitypub/ada",
    });
    expect(jrd).not.toHaveProperty("aliases");
    expect(
      (await call(sb, "/.well-known/webfinger?resource=acct:ada@elsewhere.example")).status,
    ).toBe(404);
    expect((await call(sb, "/.well-known/webfinger?resource=acct:bob@micro.example")).status).toBe(
      404,
    );

    const get = (accept: string) => call(sb, "/activitypub/ada", { accept });
    const res = await get("application/activity+json");
    expect(res.headers.get("content-type")).toContain("application/activity+json");
    const actor = (await res.json()) as Record<string, unknown>;
    expect(actor).toMatchObject({
      id: "https://micro.example/activitypub/ada",
      type: "Person",
      preferredUsername: "ada",
      name: "Ada",
      inbox: "https://micro.example/activitypub/ada/inbox",
      outbox: "https://micro.example/activitypub/ada/outbox",
      followers: "https://micro.example/activitypub/ada/followers",
      following: "https://micro.example/activitypub/ada/following",
      endpoints: { sharedInbox: "https://micro.example/activitypub/shared/inbox" },
    });
    for (const absent of ["alsoKnownAs", "manuallyApprovesFollowers", "movedTo", "discoverable"]) {
      expect(actor).not.toHaveProperty(absent);
    }
    expect((actor.publicKey as { publicKeyPem: string }).publicKeyPem).toContain("PUBLIC KEY");

    sb.addAlias("ada", "https://mastodon.example/users/ada");
    const ld = await get('application/ld+json; profile="https://www.w3.org/ns/activitystreams"');
    expect(((await ld.json()) as { alsoKnownAs: string[] }).alsoKnownAs).toEqual([
      "https://mastodon.example/users/ada",
    ]);
    expect(sb.removeAlias("ada", "https://mastodon.example/users/ada")).toBe(true);
    expect(await (await get("application/activity+json")).json()).not.toHaveProperty("alsoKnownAs");

    const page = await get("text/html");
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(
      (await call(sb, "/activitypub/nobody", { accept: "application/activity+json" })).status,
    ).toBe(404);

    const ni = (await (await call(sb, "/.well-known/nodeinfo")).json()) as {
      links: { href: string }[];
    };
    expect(ni.links[0]!.href).toBe("https://micro.example/nodeinfo/2.0");
    const doc = (await (await call(sb, "/nodeinfo/2.0")).json()) as Record<string, unknown>;
    expect(doc).toMatchObject({ version: "2.0", software: { name: "micro.blog" } });
  });
});

describe("micro.blog sandbox: Fediverse usernames", () => {
  type Jrd = { subject: string; links: { rel: string; href?: string }[] };
  const finger = async (sb: MicroblogSandbox, acct: string) => {
    const res = await call(sb, `/.well-known/webfinger?resource=acct:${acct}`);
    return res.status === 200 ? ((await res.json()) as Jrd) : res.status;
  };
  const selfOf = (jrd: Jrd | number) =>
    typeof jrd === "number" ? jrd : jrd.links.find((l) => l.rel === "self")?.href;

  it("one chosen on the blog's own domain: verify names the site, WebFinger only the new username, the actor lives on the blog's domain", async () => {
    const sb = await start({ domain: "micro.example" });
    const token = sb.addUser("ada", { site: "Ada.example" });
    const verified = await call(sb, "/account/verify", { method: "POST", form: { token } });
    expect(await verified.json()).toMatchObject({ username: "ada", default_site: "ada.example" });
    expect(selfOf(await finger(sb, "ada@micro.example"))).toBe(
      "https://micro.example/activitypub/ada",
    );
    expect(await finger(sb, "ada@ada.example")).toBe(404);

    sb.setFediverseUsername("ada", "hello@ada.example");
    expect(await finger(sb, "ada@micro.example")).toBe(404);
    const jrd = await finger(sb, "Hello@Ada.example");
    expect(typeof jrd !== "number" && jrd.subject).toBe("acct:hello@ada.example");
    expect(selfOf(jrd)).toBe("https://ada.example/activitypub/ada");
    const byActor = await call(
      sb,
      `/.well-known/webfinger?resource=${encodeURIComponent("https://ada.example/activitypub/ada")}`,
    );
    expect(((await byActor.json()) as Jrd).subject).toBe("acct:hello@ada.example");
    const actor = (await (
      await call(sb, "/activitypub/ada", { accept: "application/activity+json" })
    ).json()) as Record<string, unknown>;
    expect(actor).toMatchObject({
      id: "https://ada.example/activitypub/ada",
      preferredUsername: "hello",
      inbox: "https://micro.example/activitypub/ada/inbox",
      endpoints: { sharedInbox: "https://micro.example/activitypub/shared/inbox" },
      publicKey: { id: "https://ada.example/activitypub/ada#key" },
    });

    // Only on micro.blog's domain or the blog's own, and never one another user has.
    expect(() => sb.setFediverseUsername("ada", "ada@elsewhere.example")).toThrow(/blog's domain/);
    expect(() => sb.setFediverseUsername("ada", "hi@micro.example")).toThrow(/blog's domain/);
    sb.addUser("bob", { site: "ada.example" });
    expect(() => sb.setFediverseUsername("bob", "hello@ada.example")).toThrow(/taken/);
    sb.setFediverseUsername("ada", "ada@micro.example");
    expect(selfOf(await finger(sb, "ada@micro.example"))).toBe(
      "https://micro.example/activitypub/ada",
    );
  });

  it("with formerHandlesAnswer, WebFinger still answers a former username, with its own subject", async () => {
    const sb = await start({ domain: "micro.example", formerHandlesAnswer: true });
    sb.addUser("ada", { site: "ada.example", fediverse: "ada@ada.example" });
    const former = await finger(sb, "ada@micro.example");
    expect(typeof former !== "number" && former.subject).toBe("acct:ada@micro.example");
    expect(selfOf(former)).toBe("https://ada.example/activitypub/ada");
    expect(selfOf(await finger(sb, "ada@ada.example"))).toBe("https://ada.example/activitypub/ada");
  });

  it("its own users are known to the API by bare username only, listed with their blog", async () => {
    const sb = await start({ domain: "micro.example" });
    const token = sb.addUser("ada");
    sb.addUser("bob", { site: "bob.example", fediverse: "hello@bob.example" });
    sb.addUser("carol");
    const follow = (username: string) =>
      call(sb, `/users/follow?username=${encodeURIComponent(username)}`, { method: "POST", token });
    expect((await follow("carol@micro.example")).status).toBe(404);
    expect((await follow("hello@bob.example")).status).toBe(404);
    expect((await follow("bob")).status).toBe(200);
    expect((await follow("carol")).status).toBe(200);
    const list = (await (await call(sb, "/users/following/ada", { token })).json()) as {
      username: string;
      url: string;
    }[];
    expect(list.map((u) => [u.username, u.url])).toEqual([
      ["bob", "https://bob.example/"],
      ["carol", "https://carol.micro.blog/"],
    ]);
  });
});

describe("micro.blog sandbox: refusals that are not the rate limit", () => {
  it("refuses a follow it won't make, with the reply given, and knows the account otherwise", async () => {
    const sb = await start();
    const token = sb.addUser("ada");
    sb.addRemote("shy@m.example", {
      exists: true,
      refuseFollow: { status: 403, body: '{"error":"You can\'t follow this user."}' },
    });
    const refused = await call(sb, "/users/follow?username=shy@m.example", {
      method: "POST",
      token,
    });
    expect([refused.status, await refused.json()]).toEqual([
      403,
      { error: "You can't follow this user." },
    ]);
    const is = await call(sb, "/users/is_following?username=shy@m.example", { token });
    expect(await is.json()).toEqual({ is_following: false, is_you: false });
    expect(sb.followingOf("ada")).toEqual([]);
  });

  it("a deleted token gets the bad-token answer: 401, or 403 with badTokenStatus", async () => {
    const sb = await start();
    const token = sb.addUser("ada");
    expect(sb.revokeAppToken(token)).toBe(true);
    expect(sb.revokeAppToken(token)).toBe(false);
    expect((await call(sb, "/users/following/ada", { token })).status).toBe(401);
    const verify = await call(sb, "/account/verify", { method: "POST", form: { token } });
    expect(await verify.json()).toEqual({ error: "App token was not valid." });

    const strict = await start({ badTokenStatus: 403 });
    const other = strict.addUser("ada");
    strict.revokeAppToken(other);
    const res = await call(strict, "/users/following/ada", { token: other });
    expect([res.status, await res.json()]).toEqual([403, { error: "Not authorized." }]);
    expect((await call(strict, "/posts/ada", { token: other })).status).toBe(403);
  });
});

describe("micro.blog sandbox: faults and control endpoints", () => {
  it("fails the next matching requests, and is driven over /_sandbox", async () => {
    const sb = await start();
    const post = async (path: string, body: unknown) =>
      fetch(`${sb.url}/_sandbox/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const { token } = (await (await post("users", { username: "ada" })).json()) as {
      token: string;
    };
    expect((await post("remotes", { handle: "a@m.example", exists: true })).status).toBe(201);
    expect((await post("remotes", { handle: "@a@m.example", exists: true })).status).toBe(400);
    expect((await post("follows", { username: "ada", handle: "a@m.example" })).status).toBe(201);
    expect(
      (await post("users", { username: "bob", site: "bob.example", fediverse: "hi@bob.example" }))
        .status,
    ).toBe(201);
    expect((await post("fediverse", { username: "bob", handle: "hi@other.example" })).status).toBe(
      400,
    );
    expect((await post("fediverse", { username: "bob", handle: "bob@bob.example" })).status).toBe(
      200,
    );
    expect((await post("fediverse", { username: "bob", handle: "@x@bob.example" })).status).toBe(
      400,
    );
    const bob = await call(sb, "/.well-known/webfinger?resource=acct:bob@bob.example");
    expect(bob.status).toBe(200);
    const { token: spare } = (await (await post("tokens", { username: "bob" })).json()) as {
      token: string;
    };
    expect(await (await post("revoke-token", { token: spare })).json()).toEqual({ revoked: true });
    expect(await (await fetch(`${sb.url}/_sandbox/following?username=ada`)).json()).toEqual([
      "a@m.example",
    ]);
    await post("fail-next", { n: 1, status: 502, path: "/users/" });
    expect((await call(sb, "/.well-known/nodeinfo")).status).toBe(200);
    const failed = await call(sb, "/users/is_following?username=ada", { token });
    expect([failed.status, await failed.text()]).toEqual([502, expect.stringContaining("nginx")]);
    expect((await call(sb, "/users/is_following?username=ada", { token })).status).toBe(200);
    await call(sb, "/account/verify", { method: "POST", form: { token } });
    expect(await (await fetch(`${sb.url}/_sandbox/verify-count?token=${token}`)).json()).toEqual({
      count: 1,
    });
    await post("rate-limit", { limit: 0, windowMs: 60_000 });
    expect((await call(sb, "/nodeinfo/2.0")).status).toBe(403);
    const log = (await (await fetch(`${sb.url}/_sandbox/requests`)).json()) as { status: number }[];
    expect(log.map((r) => r.status)).toEqual([200, 200, 502, 200, 200, 403]);
    await post("reset-log", {});
    expect(sb.requests).toEqual([]);

    await post("rate-limit", null);
    await post("latency", { ms: 120 });
    const started = Date.now();
    expect((await call(sb, "/nodeinfo/2.0")).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    await post("latency", { ms: 0 });
    await post("fail-next", { n: 1, hang: true });
    const hung = await fetch(`${sb.url}/nodeinfo/2.0`, { signal: AbortSignal.timeout(200) }).catch(
      () => "gave up",
    );
    expect(hung).toBe("gave up");
    expect(sb.requests.at(-1)!.status).toBe(0);
  });
});
