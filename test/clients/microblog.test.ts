import { afterEach, describe, expect, it } from "vitest";
import {
  type MicroblogSandbox,
  type MicroblogSandboxOptions,
  type RequestLogEntry,
  startMicroblogSandbox,
} from "../../sandbox/microblog.js";
import { FediverseClient } from "../../src/clients/fediverse.js";
import { MICROBLOG_LIMIT, MicroblogClient } from "../../src/clients/microblog.js";
import { MicroblogAccount } from "../../src/clients/microblog-account.js";
import { checkGivenHandle, findFediverseHandle } from "../../src/clients/microblog-handle.js";
import { TokenRejectedError } from "../../src/clients/new-account.js";
import type { FollowRow } from "../../src/model/state.js";
import { GuardedDispatcher } from "../../src/net/dispatcher.js";
import {
  BadResponseError,
  RateLimitedError,
  RejectedError,
  RemoteError,
} from "../../src/net/errors.js";
import { Http } from "../../src/net/http.js";
import { type OriginRule, Pacer, reportWaits } from "../../src/net/pacer.js";

const sandboxes: MicroblogSandbox[] = [];
afterEach(async () => {
  for (const s of sandboxes.splice(0)) await s.close();
});

/** micro.blog's rule, with `rule` in place of its figures (a block of a second, a smaller limit). */
async function setup(opts: MicroblogSandboxOptions = {}, rule: Partial<OriginRule> = {}) {
  const sb = await startMicroblogSandbox(opts);
  sandboxes.push(sb);
  const pacer = new Pacer(50);
  pacer.rule(sb.url, { ...MICROBLOG_LIMIT, ...rule });
  const http = new Http(new GuardedDispatcher(pacer, true), 5000, 20);
  const client = new MicroblogClient(http, sb.url);
  return { sb, http, client, pacer, origin: new URL(sb.url).origin };
}

const MB = "mb.example";

/**
 * Ada's micro.blog account as the import sees it, on a stand-in that plays mb.example and
 * the blogs' own domains in `blogs`; any other host refuses connections.
 */
async function account(
  opts: MicroblogSandboxOptions = {},
  rule: Partial<OriginRule> = {},
  blogs: string[] = [],
) {
  const set = await setup({ domain: MB, ...opts }, rule);
  const played = new Set([MB, ...blogs]);
  const fediverse = new FediverseClient(set.http, (host) =>
    played.has(host) ? set.sb.url : "http://127.0.0.1:9",
  );
  const token = set.sb.addUser("ada");
  const ada = new MicroblogAccount(
    { client: set.client, fediverse, domain: MB },
    token,
    "ada",
    `ada@${MB}`,
  );
  return { ...set, token, ada, fediverse };
}

const row = (acct: string): FollowRow => ({ acct, reblogs: true, notify: false, languages: null });

async function rejection(p: Promise<unknown>): Promise<RejectedError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RejectedError);
  return err as RejectedError;
}

/** No request reached the stand-in after a refusal until that refusal's window was over. */
function expectQuietAfterRefusals(log: readonly RequestLogEntry[]): number {
  let refusals = 0;
  log.forEach((r, i) => {
    if (r.status !== 403) return;
    refusals += 1;
    expect(r.resetAt).toBeDefined();
    const early = log.slice(i + 1).filter((o) => o.time < r.resetAt!);
    expect(early).toEqual([]);
  });
  return refusals;
}

describe("MicroblogClient.verify", () => {
  it("checks an app token with one request, and later calls don't verify again", async () => {
    const { sb, client } = await setup();
    const token = sb.addUser("ada", { name: "Ada Lovelace" });
    sb.addUser("bob");
    expect(await client.verify(token)).toEqual({
      token,
      username: "ada",
      name: "Ada Lovelace",
      defaultSite: "ada.micro.blog",
    });
    await client.follow(token, "bob");
    await client.isFollowing(token, "bob");
    await client.following(token, "ada");
    expect(sb.verifyCount(token)).toBe(1);
    expect(sb.requests.filter((r) => r.path === "/account/verify")).toHaveLength(1);
  });

  it("rejects an invalid token (a 200 with an error, or a 4xx) without naming the token", async () => {
    const { sb, client } = await setup();
    const bad = "SECRET0123456789";
    const err = await rejection(client.verify(bad));
    expect(err.detail).toBe("App token was not valid.");
    expect(err.message).not.toContain(bad);

    sb.failNext(1, {
      status: 401,
      body: JSON.stringify({ error: `Token ${bad} is not valid.` }),
      path: "/account/verify",
    });
    const echoed = await rejection(client.verify(bad));
    expect(echoed.status).toBe(401);
    expect(`${echoed.message} ${echoed.detail}`).not.toContain(bad);
  });

  it("takes a 403 on verify for the token, never the limit: no retry, and its block is lifted", async () => {
    const { sb, client, pacer, origin } = await setup();
    const token = sb.addUser("ada");
    sb.addUser("bob");
    await client.follow(token, "bob");
    // Right after another request: in a busy minute, so the pacer blocks at first.
    sb.failNext(1, { status: 403, path: "/account/verify" });
    const err = await rejection(client.verify("SOMETOKEN123"));
    expect(err.status).toBe(403);
    expect(sb.requests.filter((r) => r.path === "/account/verify")).toHaveLength(1);
    expect(pacer.blockedUntil(origin)).toBeUndefined();
    expect(await client.isFollowing(token, "bob")).toBe(true);
  });

  it("reports when micro.blog has made the token expiring", async () => {
    const { sb, client } = await setup({ expireAfterVerifies: 1 });
    const token = sb.addUser("ada");
    expect((await client.verify(token)).expiresAt).toBeUndefined();
    const second = await client.verify(token);
    expect(Date.parse(second.expiresAt!)).toBeGreaterThan(Date.now());
  });
});

describe("MicroblogClient follows", () => {
  it("follows native and Fediverse accounts, stripping a leading @", async () => {
    const { sb, client } = await setup();
    const token = sb.addUser("ada");
    sb.addUser("bob");
    sb.addRemote("alice@mastodon.example", { exists: true });
    expect(await client.follow(token, "bob")).toEqual({ kind: "followed" });
    expect(await client.follow(token, "@alice@mastodon.example")).toEqual({ kind: "followed" });
    expect(sb.followingOf("ada")).toEqual(["bob", "alice@mastodon.example"]);
    expect(await client.isFollowing(token, "@Alice@mastodon.example")).toBe(true);
    expect(await client.isFollowing(token, "carol@mastodon.example")).toBe(false);
    sb.addRemote("Dana@Mastodon.example", { exists: true });
    sb.follow("ada", "dana@mastodon.example");
    expect((await client.following(token, "ada")).map((u) => u.username)).toEqual([
      "bob",
      "alice@mastodon.example",
      "Dana@Mastodon.example",
    ]);
  });

  it("reads 'no such user' from JSON, text and HTML answers, and a 200 with an error", async () => {
    const { sb, client } = await setup();
    const token = sb.addUser("ada");
    const gone = {
      "json@x.example": { status: 404, body: '{"error":"User not found."}' },
      "text@x.example": { status: 404, body: "Not Found", contentType: "text/plain" },
      "html@x.example": {
        status: 404,
        body: "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
        contentType: "text/html",
      },
      "said@x.example": {
        status: 400,
        body: "Could not find that user.",
        contentType: "text/plain",
      },
      "ok@x.example": { status: 200, body: '{"error":"User does not exist."}' },
    };
    for (const [handle, errorBody] of Object.entries(gone)) {
      sb.addRemote(handle, { exists: false, errorBody });
      expect(await client.follow(token, handle)).toEqual({ kind: "not-found" });
    }
    expect(await client.follow(token, "nobody")).toEqual({ kind: "not-found" });
    expect(sb.followingOf("ada")).toEqual([]);
  });

  it("throws the server's own text for other refusals", async () => {
    const { sb, client } = await setup();
    const token = sb.addUser("ada");
    sb.addRemote("odd@x.example", {
      exists: false,
      errorBody: { status: 400, body: "Error while processing the request." },
    });
    const err = await rejection(client.follow(token, "odd@x.example"));
    expect([err.status, err.detail]).toEqual([400, "Error while processing the request."]);
    sb.addRemote("html@x.example", {
      exists: false,
      errorBody: {
        status: 422,
        body: "<html><body><p>Mastodon server is not responding.</p></body></html>",
        contentType: "text/html",
      },
    });
    const html = await rejection(client.follow(token, "html@x.example"));
    expect(html.detail).toBe("Mastodon server is not responding.");
    const unauthorized = await rejection(client.follow("WRONG", "odd@x.example"));
    expect(unauthorized).toBeInstanceOf(TokenRejectedError);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.message).not.toContain("WRONG");
  });

  it("sends a follow once, whatever became of its answer: a lost one is thrown for the import to check", async () => {
    const { sb, client } = await setup();
    const token = sb.addUser("ada");
    sb.addUser("bob");
    sb.addUser("cy");
    sb.failNext(1, { status: 502, path: "/users/follow" });
    await expect(client.follow(token, "bob")).rejects.toBeInstanceOf(BadResponseError);
    // Every follow's answer is cut short after micro.blog has made the follow.
    sb.setChaos({ rate: 1, seed: 1, kinds: ["truncated"], paths: ["/users/follow"] });
    await expect(client.follow(token, "cy")).rejects.toBeInstanceOf(RemoteError);
    expect(sb.requests.map((r) => `${r.status} ${r.path.split("?")[0]}`)).toEqual([
      "502 /users/follow",
      "200 /users/follow",
    ]);
    expect(sb.followRequestsOf("ada")).toEqual({ cy: 1 });
  });
});

describe("MicroblogClient and micro.blog's limit (403)", () => {
  it("makes 12 follows at 5 a second, sending nothing between a 403 and the window's end", async () => {
    const { sb, client } = await setup(
      { rateLimit: { limit: 5, windowMs: 1000 } },
      { blockMs: 1000 },
    );
    const token = sb.addUser("ada");
    for (let k = 0; k < 12; k++) sb.addRemote(`friend${k}@x.example`, { exists: true });
    const waits: Date[] = [];
    await reportWaits(
      (until) => waits.push(until),
      async () => {
        for (let k = 0; k < 12; k++) {
          expect(await client.follow(token, `friend${k}@x.example`)).toEqual({ kind: "followed" });
        }
      },
    );
    expect(sb.followingOf("ada")).toHaveLength(12);
    const refusals = expectQuietAfterRefusals(sb.requests);
    expect(refusals).toBeGreaterThanOrEqual(1);
    expect(sb.requests.filter((r) => r.status === 200)).toHaveLength(12);
    expect(waits.length).toBeGreaterThanOrEqual(refusals);
  });

  it("holds every user's requests in one budget", async () => {
    const { sb, http } = await setup(
      { rateLimit: { limit: 5, windowMs: 1000 } },
      { blockMs: 1000 },
    );
    // Two clients over the same Http, as two users' jobs would have.
    const ada = new MicroblogClient(http, sb.url);
    const bob = new MicroblogClient(http, sb.url);
    const adaToken = sb.addUser("ada");
    const bobToken = sb.addUser("bob");
    for (let k = 0; k < 8; k++) sb.addRemote(`friend${k}@x.example`, { exists: true });
    const run = async (client: MicroblogClient, token: string) => {
      for (let k = 0; k < 8; k++) {
        expect(await client.follow(token, `friend${k}@x.example`)).toEqual({ kind: "followed" });
      }
    };
    await Promise.all([run(ada, adaToken), run(bob, bobToken)]);
    expect(sb.followingOf("ada")).toHaveLength(8);
    expect(sb.followingOf("bob")).toHaveLength(8);
    expect(expectQuietAfterRefusals(sb.requests)).toBeGreaterThanOrEqual(1);
    // The refusal stopped both users: each has requests after it, none before its window ended.
    const first = sb.requests.findIndex((r) => r.status === 403);
    const after = new Set(sb.requests.slice(first + 1).map((r) => r.user));
    expect(after).toEqual(new Set(["ada", "bob"]));
  });

  it("registers micro.blog's limit with the pacer, keeping a rule registered before", () => {
    const pacer = new Pacer(50);
    const http = new Http(new GuardedDispatcher(pacer, true), 5000, 20);
    new MicroblogClient(http, "https://micro.blog.example/");
    expect(pacer.ruleOf("https://micro.blog.example")).toMatchObject({
      limit: 300,
      windowMs: 60_000,
      limitStatus: undefined,
      ambiguousStatus: 403,
      blockMs: 60_000,
    });
    pacer.rule("https://scaled.example", { ...MICROBLOG_LIMIT, limit: 5, windowMs: 1000 });
    new MicroblogClient(http, "https://scaled.example");
    expect(pacer.ruleOf("https://scaled.example")?.limit).toBe(5);
  });

  it("takes a 403 after a quiet minute for a refusal: nothing blocked, nothing tried again", async () => {
    const { sb, client, pacer, origin } = await setup();
    const token = sb.addUser("ada");
    sb.addRemote("bob@x.example", { exists: true });
    sb.failNext(5, { status: 403, body: "Forbidden", contentType: "text/plain" });
    expect(await client.follow(token, "bob@x.example")).toEqual({
      kind: "refused",
      status: 403,
      detail: "Forbidden",
    });
    expect(sb.requests.map((r) => r.status)).toEqual([403]);
    expect(pacer.blockedUntil(origin)).toBeUndefined();
  });

  it("a 403 in a busy minute blocks everyone, then the call is tried again; a 403 after the block is a refusal", async () => {
    // micro.blog's figures, scaled: a window of 300 ms, blocked as long.
    const { sb, client } = await setup({}, { windowMs: 300, blockMs: 300 });
    const token = sb.addUser("ada");
    sb.addRemote("bob@x.example", { exists: true });
    sb.addRemote("carol@x.example", { exists: true });
    expect(await client.follow(token, "bob@x.example")).toEqual({ kind: "followed" });
    sb.failNext(1, { status: 403 });
    expect(await client.follow(token, "carol@x.example")).toEqual({ kind: "followed" });
    expect(sb.requests.map((r) => r.status)).toEqual([200, 403, 200]);
    const times = sb.requests.map((r) => r.time);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(300);

    sb.resetLog();
    sb.failNext(2, { status: 403 });
    const refused = await client.follow(token, "bob@x.example");
    expect(refused).toMatchObject({ kind: "refused", status: 403 });
    expect(sb.requests.map((r) => r.status)).toEqual([403, 403]);
  });

  it("gives up with RateLimitedError when the limit goes on past its tries", async () => {
    const { sb, client } = await setup({}, { windowMs: 300, blockMs: 300, tries: 1 });
    const token = sb.addUser("ada");
    sb.addUser("bob");
    await client.follow(token, "bob");
    sb.failNext(1, { status: 403 });
    const err = await client.follow(token, "bob").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(sb.requests.map((r) => r.status)).toEqual([200, 403]);
  });
});

describe("MicroblogAccount: micro.blog's own users by both their names", () => {
  it("a follows list's bob@micro.blog is micro.blog's bob, and a name on a blog's own domain is that blog's user", async () => {
    const { sb, ada } = await account({}, {}, ["carol.example"]);
    sb.addUser("bob");
    sb.addUser("carol", { site: "carol.example", fediverse: "hello@carol.example" });
    sb.addUser("dan");
    sb.addRemote("alice@x.example", { exists: true });
    for (const h of ["bob", "carol", "alice@x.example"]) sb.follow("ada", h);
    const followed = await ada.following();
    expect(
      [
        "bob@mb.example",
        "@Bob@MB.example",
        "hello@carol.example",
        "alice@x.example",
        "dan@mb.example",
        "bob@x.example",
        "carol@mb.example",
      ].map((h) => followed.has(h)),
    ).toEqual([true, true, true, true, false, false, true]);
  });

  it("follows bob@micro.blog as bob, and one on a blog's own domain by the username its actor is served under", async () => {
    const { sb, ada } = await account({}, {}, ["erin.example"]);
    sb.addUser("dan");
    sb.addUser("erin", { site: "erin.example", fediverse: "hi@erin.example" });
    expect(await ada.follow(row("dan@mb.example"))).toEqual({ kind: "followed" });
    expect(await ada.follow(row("hi@erin.example"))).toEqual({ kind: "followed" });
    expect(await ada.follow(row("ghost@nowhere.example"))).toEqual({ kind: "not-found" });
    expect(sb.followingOf("ada")).toEqual(["dan", "erin"]);
    const follows = sb.requests.filter((r) => r.path.startsWith("/users/follow"));
    expect(follows.map((r) => [decodeURIComponent(r.path.split("=")[1]!), r.status])).toEqual([
      ["dan", 200],
      ["hi@erin.example", 404],
      ["erin", 200],
      ["ghost@nowhere.example", 404],
    ]);
    expect(await ada.isFollowing("dan@mb.example")).toBe(true);
  });
});

describe("MicroblogAccount: refusals that are not the limit", () => {
  it("a refused follow is that account's: its reason, after one check that the token works", async () => {
    const { sb, ada } = await account();
    sb.addRemote("shy@x.example", {
      exists: true,
      refuseFollow: { status: 403, body: '{"error":"You can\'t follow this user."}' },
    });
    expect(await ada.follow(row("shy@x.example"))).toEqual({
      kind: "refused",
      reason: "You can't follow this user.",
    });
    expect(sb.requests.map((r) => `${r.method} ${r.path.split("?")[0]} ${r.status}`)).toEqual([
      "POST /users/follow 403",
      "GET /users/is_following 200",
    ]);
  });

  it("a deleted token is a TokenRejectedError, whether micro.blog says 401 or 403", async () => {
    const plain = await account();
    plain.sb.addRemote("a@x.example", { exists: true });
    plain.sb.revokeAppToken(plain.token);
    const err = await plain.ada.follow(row("a@x.example")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenRejectedError);
    expect((err as TokenRejectedError).status).toBe(401);
    expect(plain.sb.requests).toHaveLength(1);

    // As easy to take for the limit as a 403 can be: in a busy minute, and again after it.
    const strict = await account({ badTokenStatus: 403 }, { windowMs: 300, blockMs: 300 });
    strict.sb.addRemote("a@x.example", { exists: true });
    strict.sb.addRemote("b@x.example", { exists: true });
    await strict.ada.follow(row("a@x.example"));
    strict.sb.revokeAppToken(strict.token);
    const dead = await strict.ada.follow(row("b@x.example")).catch((e: unknown) => e);
    expect(dead).toBeInstanceOf(TokenRejectedError);
    expect((dead as TokenRejectedError).status).toBe(403);
    // The follow's 403 in a busy minute, its retry after the block, and the token asked once.
    expect(strict.sb.requests.map((r) => r.status)).toEqual([200, 403, 403, 403]);
    expect(strict.pacer.blockedUntil(strict.origin)).toBeUndefined();
  });
});

describe("The pacer spaces micro.blog's requests by the limit", () => {
  it("never meets a 403 when it knows the limit: 12 follows at 5 a second, all answered", async () => {
    const { sb, client } = await setup(
      { rateLimit: { limit: 5, windowMs: 1000 } },
      { limit: 5, windowMs: 1000, blockMs: 1000 },
    );
    const token = sb.addUser("ada");
    for (let k = 0; k < 12; k++) sb.addRemote(`u${k}@one.example`, { exists: true });
    const waits: Date[] = [];
    await reportWaits(
      (until) => waits.push(until),
      async () => {
        for (let k = 0; k < 12; k++)
          expect(await client.follow(token, `u${k}@one.example`)).toEqual({ kind: "followed" });
      },
    );
    expect(sb.requests.filter((r) => r.status === 403)).toEqual([]);
    expect(sb.followingOf("ada")).toHaveLength(12);
  });
});

describe("The Fediverse username of a micro.blog account", () => {
  it("is read from WebFinger: on micro.blog's domain, or on the blog's own", async () => {
    const { sb, fediverse } = await account({}, {}, ["bob.example", "carol.example"]);
    sb.addUser("bob", { site: "bob.example", fediverse: "bob@bob.example" });
    sb.addUser("carol", { site: "carol.example" });
    const find = (username: string, defaultSite?: string) =>
      findFediverseHandle(fediverse, { username, ...(defaultSite ? { defaultSite } : {}) }, MB);
    expect(await find("ada", "ada.micro.blog")).toEqual({
      kind: "found",
      handle: "ada@mb.example",
    });
    expect(await find("bob", "bob.example")).toEqual({ kind: "found", handle: "bob@bob.example" });
    // A blog of its own, its Fediverse username still on micro.blog.
    expect(await find("carol", "carol.example")).toEqual({
      kind: "found",
      handle: "carol@mb.example",
    });
  });

  it("is for the user to confirm when none answers, or one can't be asked", async () => {
    const { sb, fediverse } = await account({}, {}, ["bob.example"]);
    sb.addUser("bob", { site: "bob.example", fediverse: "hello@bob.example" });
    sb.addUser("dan", { site: "dan.example" });
    const find = (username: string, defaultSite: string) =>
      findFediverseHandle(fediverse, { username, defaultSite }, MB);
    // A name chosen apart from the username: neither place knows bob by his.
    expect(await find("bob", "bob.example")).toEqual({ kind: "unsure", offers: [] });
    // dan.example doesn't answer here: what was seen first, then what couldn't be asked.
    expect(await find("dan", "dan.example")).toEqual({
      kind: "unsure",
      offers: ["dan@mb.example", "dan@dan.example"],
    });
  });

  it("a former username that still answers names the current one, as Mastodon would read it", async () => {
    const { sb, fediverse } = await account({ formerHandlesAnswer: true }, {}, ["bob.example"]);
    sb.addUser("bob", { site: "bob.example", fediverse: "hello@bob.example" });
    expect(
      await findFediverseHandle(fediverse, { username: "bob", defaultSite: "bob.example" }, MB),
    ).toEqual({ kind: "found", handle: "hello@bob.example" });
  });

  it("a handle the user gives is checked: known, micro.blog's, or neither", async () => {
    const { sb, fediverse } = await account({}, {}, ["bob.example", "other.example"]);
    sb.addUser("bob", { site: "bob.example", fediverse: "hello@bob.example" });
    const elsewhere = await startMicroblogSandbox({ domain: "other.example" });
    sandboxes.push(elsewhere);
    elsewhere.addUser("zed");
    const otherFediverse = new FediverseClient(
      new Http(new GuardedDispatcher(new Pacer(50), true), 5000, 20),
      (host) =>
        host === "other.example" ? elsewhere.url : host === "bob.example" ? sb.url : sb.url,
    );
    expect(await checkGivenHandle(fediverse, "@Hello@Bob.example", MB)).toEqual({
      kind: "ok",
      handle: "hello@bob.example",
    });
    expect(await checkGivenHandle(fediverse, "nobody@bob.example", MB)).toEqual({
      kind: "no-account",
      handle: "nobody@bob.example",
    });
    expect(await checkGivenHandle(otherFediverse, "zed@other.example", MB)).toEqual({
      kind: "not-microblog",
      handle: "zed@other.example",
    });
    const down = await checkGivenHandle(fediverse, "ada@down.example", MB);
    expect(down.kind).toBe("unreachable");
  });
});
