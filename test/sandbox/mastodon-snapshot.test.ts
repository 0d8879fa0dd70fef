import { createRestAPIClient, type MastoHttpError, type mastodon } from "masto";
import { describe, expect, it } from "vitest";
import {
  type MastodonSandbox,
  type MastodonSandboxOptions,
  startMastodonSandbox,
} from "../../sandbox/mastodon.js";
import {
  mastodonBlockedAccountsCsv,
  mastodonBlockedDomainsCsv,
  mastodonBookmarksCsv,
  mastodonExports,
  mastodonFollowerAccts,
  mastodonFollowingCsv,
  mastodonFollowingCsvOf,
  mastodonListsCsv,
  mastodonMutedAccountsCsv,
} from "../../sandbox/mastodon-export.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();

async function withAda(opts: MastodonSandboxOptions = {}, scopes = ["read"]) {
  const sandbox = closing(await startMastodonSandbox({ rateLimit: null, ...opts }));
  const sb = sandbox;
  const ada = sb.addAccount({ username: "ada" });
  const token = sb.issueToken("ada", scopes);
  const client = createRestAPIClient({ url: sb.url, accessToken: token });
  const get = async (path: string, t: string | null = token) => {
    const res = await fetch(`${sb.url}${path}`, {
      headers: t ? { Authorization: `Bearer ${t}` } : {},
    });
    const text = await res.text();
    const json = res.headers.get("content-type")?.startsWith("application/json");
    return {
      status: res.status,
      link: res.headers.get("link"),
      body: (json ? JSON.parse(text) : text) as unknown,
    };
  };
  return { sb, ada, token, client, get };
}

async function failure(p: PromiseLike<unknown>): Promise<MastoHttpError> {
  try {
    await p;
  } catch (err) {
    return err as MastoHttpError;
  }
  throw new Error("expected a rejection");
}

/** Walks a masto paginator, returning the pages. */
async function pages<T>(paginator: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const page of paginator) out.push(page);
  return out;
}

describe("GET /api/v1/blocks", () => {
  it("walks 250 blocks newest first, with Block ids as cursors", async () => {
    const { sb, client, get } = await withAda();
    const snap = sb.seedSnapshot("ada", { blocks: 250 });
    const newest = [...snap.blocks].reverse();
    sb.resetLog();

    const seen = await pages(client.v1.blocks.list({ limit: 80 }));
    expect(seen.map((p) => p.length)).toEqual([80, 80, 80, 10]);
    expect(seen.flat().map((a) => a.acct)).toEqual(newest.map((b) => b.acct));
    const cursors = sb.requests
      .map((r) => new URL(r.path, sb.url).searchParams.get("max_id"))
      .filter((c) => c !== null);
    expect(cursors).toEqual([newest[79]!.id, newest[159]!.id, newest[239]!.id]);
    expect(Number(newest[0]!.id)).toBeLessThan(1e9); // a Block id, not an account id

    const first = await get("/api/v1/blocks");
    expect((first.body as unknown[]).length).toBe(40);
    expect(first.link).toBe(
      `<${sb.url}/api/v1/blocks?max_id=${newest[39]!.id}>; rel="next", <${sb.url}/api/v1/blocks?since_id=${newest[0]!.id}>; rel="prev"`,
    );
    const capped = await get("/api/v1/blocks?limit=500");
    expect((capped.body as unknown[]).length).toBe(80);
    expect(capped.link).toContain("limit=500&max_id=");
    expect((await get("/api/v1/blocks?limit=0")).status).toBe(500);
  });

  it("blocking removes follows both ways, and shows in relationships", async () => {
    const { sb, client } = await withAda();
    sb.follow("ada", "bob@far.example");
    sb.follow("bob@far.example", "ada");
    expect(sb.getAccount("ada")?.following_count).toBe(1);
    sb.block("ada", "bob@far.example");
    expect(sb.getAccount("ada")).toMatchObject({ following_count: 0, followers_count: 0 });
    const bob = sb.getAccount("bob@far.example")!;
    const [rel] = await client.v1.accounts.relationships.fetch({ id: [bob.id] });
    expect(rel).toMatchObject({ blocking: true, following: false, followedBy: false });
  });
});

describe("GET /api/v1/mutes", () => {
  it("serves MutedAccount entities with mute_expires_at", async () => {
    let now = Date.UTC(2026, 10, 27, 12, 0, 0);
    const { sb, client, get } = await withAda({ now: () => now });
    sb.mute("ada", "loud@noise.example", { hideNotifications: false });
    sb.mute("ada", "brief@noise.example", { expiresIn: 3600 });
    const mutes = await client.v1.mutes.list();
    expect(mutes.map((m) => m.acct)).toEqual(["brief@noise.example", "loud@noise.example"]);
    const raw = (await get("/api/v1/mutes")).body as { mute_expires_at: string | null }[];
    expect(raw.map((m) => m.mute_expires_at)).toEqual(["2026-11-27T13:00:00.000Z", null]);
    const ids = mutes.map((m) => m.id);
    const rels = await client.v1.accounts.relationships.fetch({ id: ids });
    expect(rels.map((r) => [r.muting, r.mutingNotifications])).toEqual([
      [true, true],
      [true, false],
    ]);
    now += 3601_000;
    const later = (await get("/api/v1/mutes")).body as { mute_expires_at: string | null }[];
    expect(later[0]?.mute_expires_at).toBeNull();
  });

  it("paginates 90 mutes in pages of 40", async () => {
    const { sb, client } = await withAda();
    sb.seedSnapshot("ada", { mutes: 90 });
    expect((await pages(client.v1.mutes.list())).map((p) => p.length)).toEqual([40, 40, 10]);
  });
});

describe("GET /api/v1/domain_blocks", () => {
  it("returns strings, 100 per page (max 200), cursor = domain block id", async () => {
    const { sb, client, get } = await withAda();
    const snap = sb.seedSnapshot("ada", { domainBlocks: 250 });
    const seen = await pages(client.v1.domainBlocks.list());
    expect(seen.map((p) => p.length)).toEqual([100, 100, 50]);
    expect(seen.flat()).toEqual([...snap.domainBlocks].reverse().map((d) => d.domain));
    const big = await get("/api/v1/domain_blocks?limit=1000");
    expect((big.body as string[]).length).toBe(200);
    expect(big.link).toContain(`max_id=${snap.domainBlocks[50]!.id}`);
  });

  it("removes follows to and from the blocked domain", async () => {
    const { sb } = await withAda();
    sb.follow("ada", "a@gone.example");
    sb.follow("b@gone.example", "ada");
    sb.follow("ada", "c@kept.example");
    sb.blockDomain("ada", "Gone.Example");
    expect(sb.snapshotOf("ada")).toMatchObject({
      following: [{ acct: "c@kept.example" }],
      followers: [],
      domainBlocks: [{ domain: "gone.example" }],
    });
  });
});

describe("GET /api/v1/bookmarks", () => {
  it("walks 130 bookmarks as Status entities, 20 per page, prev by min_id", async () => {
    const { sb, client, get } = await withAda();
    const snap = sb.seedSnapshot("ada", { bookmarks: 130 });
    const newest = [...snap.bookmarks].reverse();
    const seen = await pages(client.v1.bookmarks.list());
    expect(seen.map((p) => p.length)).toEqual([20, 20, 20, 20, 20, 20, 10]);
    const statuses = seen.flat();
    expect(statuses.map((s) => s.uri)).toEqual(newest.map((b) => b.uri));
    expect(statuses[0]).toMatchObject({
      id: newest[0]!.statusId,
      url: newest[0]!.url,
      bookmarked: true,
      visibility: "public",
      account: { acct: newest[0]!.authorAcct },
    });
    expect(statuses[0]!.content).toMatch(/^<p>/);
    expect(statuses[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);

    const first = await get("/api/v1/bookmarks?limit=40");
    expect((first.body as unknown[]).length).toBe(40);
    expect(first.link).toBe(
      `<${sb.url}/api/v1/bookmarks?limit=40&max_id=${newest[39]!.id}>; rel="next", <${sb.url}/api/v1/bookmarks?limit=40&min_id=${newest[0]!.id}>; rel="prev"`,
    );
    // min_id: the oldest page above the cursor, still newest first.
    const above = await get(`/api/v1/bookmarks?limit=3&min_id=${snap.bookmarks[10]!.id}`);
    expect((above.body as mastodon.v1.Status[]).map((s) => s.uri)).toEqual(
      snap.bookmarks
        .slice(11, 14)
        .reverse()
        .map((b) => b.uri),
    );
  });

  it("before 3.1 there are no bookmarks: the route is Rails' 404, and none can be seeded", async () => {
    const { sb, get } = await withAda({ version: "3.0.2" });
    const r = await get("/api/v1/bookmarks");
    expect(r.status).toBe(404);
    expect(() => sb.bookmark("ada", "https://far.example/users/zoe/statuses/1")).toThrow(
      /has no bookmarks/,
    );
    expect(() => sb.seedSnapshot("ada", { bookmarks: 3 })).toThrow(/has no bookmarks/);
  });

  it("bookmarks given URIs, creating remote and local statuses", async () => {
    const { sb, client } = await withAda({ domain: "old.example" });
    sb.bookmark("ada", "https://fosstodon.example/users/zoe/statuses/1234");
    sb.bookmark("ada", "https://misskey.example/notes/9xyz", { author: "mk@misskey.example" });
    sb.addAccount({ username: "bob" });
    sb.bookmark("ada", "https://old.example/users/bob/statuses/777");
    const list = await client.v1.bookmarks.list();
    expect(list.map((s) => [s.account.acct, s.uri, s.url])).toEqual([
      ["bob", "https://old.example/users/bob/statuses/777", "https://old.example/@bob/777"],
      [
        "mk@misskey.example",
        "https://misskey.example/notes/9xyz",
        "https://misskey.example/notes/9xyz",
      ],
      [
        "zoe@fosstodon.example",
        "https://fosstodon.example/users/zoe/statuses/1234",
        "https://fosstodon.example/@zoe/1234",
      ],
    ]);
  });
});

describe("GET /api/v1/lists", () => {
  it("lists are unpaginated; members paginate by account id, limit=0 gives all", async () => {
    const { sb, client, get } = await withAda();
    sb.addList("ada", "Friends", ["x@one.example", "y@two.example"], { repliesPolicy: "followed" });
    sb.seedSnapshot("ada", { lists: [{ title: "Big", members: 90, exclusive: true }] });
    const lists = await client.v1.lists.list();
    expect(lists.map((l) => [l.title, l.repliesPolicy, l.exclusive])).toEqual([
      ["Friends", "followed", false],
      ["Big", "list", true],
    ]);
    const big = lists[1]!;
    const memberPages = await pages(client.v1.lists.$select(big.id).accounts.list());
    expect(memberPages.map((p) => p.length)).toEqual([40, 40, 10]);
    const ids = memberPages.flat().map((a) => BigInt(a.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? 1 : -1)));

    const first = await get(`/api/v1/lists/${big.id}/accounts`);
    const firstPage = first.body as { id: string }[];
    expect(first.link).toBe(
      `<${sb.url}/api/v1/lists/${big.id}/accounts?max_id=${firstPage[39]!.id}>; rel="next", <${sb.url}/api/v1/lists/${big.id}/accounts?since_id=${firstPage[0]!.id}>; rel="prev"`,
    );
    const all = await get(`/api/v1/lists/${big.id}/accounts?limit=0`);
    expect((all.body as unknown[]).length).toBe(90);
    expect(all.link).toBeNull();

    // Members are followed (ListAccount needs the Follow); unfollowing drops them from the list.
    expect(sb.getAccount("ada")?.following_count).toBe(92);
    sb.unfollow("ada", "x@one.example");
    expect(sb.snapshotOf("ada").lists[0]?.members.map((m) => m.acct)).toEqual(["y@two.example"]);

    sb.addAccount({ username: "eve" });
    const eveList = sb.addList("eve", "Secret");
    expect((await get(`/api/v1/lists/${eveList.id}/accounts`)).body).toEqual({
      error: "Record not found",
    });
  });

  it("omits `exclusive` before 4.2", async () => {
    const { sb, get } = await withAda({ version: "4.1.20" });
    sb.addList("ada", "Old");
    expect((await get("/api/v1/lists")).body).toEqual([
      { id: expect.any(String), title: "Old", replies_policy: "list" },
    ]);
  });
});

describe("scopes and users", () => {
  it("each collection needs its scope (or read), and a user", async () => {
    const { sb, get } = await withAda({}, ["read:accounts"]);
    sb.seedSnapshot("ada", { blocks: 1, mutes: 1, domainBlocks: 1, bookmarks: 1, lists: 1 });
    const needs: Record<string, string> = {
      "/api/v1/blocks": "read:blocks",
      "/api/v1/mutes": "read:mutes",
      "/api/v1/domain_blocks": "read:blocks",
      "/api/v1/bookmarks": "read:bookmarks",
      "/api/v1/lists": "read:lists",
    };
    for (const [path, scope] of Object.entries(needs)) {
      expect(await get(path), path).toMatchObject({
        status: 403,
        body: { error: "This action is outside the authorized scopes" },
      });
      const ok = await get(path, sb.issueToken("ada", [scope]));
      expect(ok.status, path).toBe(200);
      expect((ok.body as unknown[]).length, path).toBe(1);
      expect((await get(path, sb.issueToken("ada", ["read"]))).status, path).toBe(200);
      expect((await get(path, null)).status, path).toBe(401);
    }
    // The deprecated `follow` scope still reads blocks and mutes, not bookmarks.
    const follow = sb.issueToken("ada", ["follow"]);
    expect((await get("/api/v1/blocks", follow)).status).toBe(200);
    expect((await get("/api/v1/mutes", follow)).status).toBe(200);
    expect((await get("/api/v1/bookmarks", follow)).status).toBe(403);
  });
});

describe("hidden collections", () => {
  it("followers of an account hiding them are [] to others, counts stay public", async () => {
    const { sb, client } = await withAda();
    const bob = sb.addAccount({ username: "bob", hideCollections: true });
    sb.seedFollowers("bob", 12);
    expect(await client.v1.accounts.$select(bob.id).followers.list()).toEqual([]);
    expect((await client.v1.accounts.$select(bob.id).fetch()).followersCount).toBe(12);
    const owner = createRestAPIClient({ url: sb.url, accessToken: sb.issueToken("bob") });
    expect(await owner.v1.accounts.$select(bob.id).followers.list()).toHaveLength(12);

    // An account that blocks you shows you nothing either.
    const carol = sb.addAccount({ username: "carol" });
    sb.seedFollowers("carol", 3);
    expect(await client.v1.accounts.$select(carol.id).followers.list()).toHaveLength(3);
    sb.block("carol", "ada");
    expect(await client.v1.accounts.$select(carol.id).followers.list()).toEqual([]);
    const err = await failure(
      createRestAPIClient({
        url: sb.url,
        accessToken: sb.issueToken("ada", ["write"]),
      }).v1.blocks.list(),
    );
    expect(err.statusCode).toBe(403);
  });
});

describe("exports", () => {
  it("writes Mastodon's CSV files from the snapshot", async () => {
    const { sb } = await withAda({ domain: "social.example" });
    sb.addAccount({ username: "bob" });
    sb.follow("ada", "bob", { notify: true });
    sb.follow("ada", "zed@far.example", { languages: ["en", "de"], showReblogs: false });
    sb.follow("fan@far.example", "ada");
    sb.follow("bob", "ada");
    sb.mute("ada", "loud@noise.example", { hideNotifications: false });
    sb.mute("ada", "bob");
    sb.block("ada", "troll@bad.example");
    sb.block("ada", "spam@bad.example");
    sb.addList("ada", 'Work, "team"', ["bob", "zed@far.example"]);
    sb.addList("ada", "Empty");
    sb.blockDomain("ada", "bad.example");
    sb.blockDomain("ada", "worse.example");
    sb.bookmark("ada", "https://fosstodon.example/users/zoe/statuses/1");
    sb.bookmark("ada", "https://social.example/users/bob/statuses/2");
    const snap = sb.snapshotOf("ada");

    expect(mastodonMutedAccountsCsv(snap)).toBe(
      "Account address,Hide notifications\nbob@social.example,true\nloud@noise.example,false\n",
    );
    // account.blocking is ordered blocks.id desc: the newest block first, as the API lists them.
    expect(mastodonBlockedAccountsCsv(snap)).toBe("spam@bad.example\ntroll@bad.example\n");
    expect(mastodonListsCsv(snap)).toBe(
      '"Work, ""team""",bob@social.example\n"Work, ""team""",zed@far.example\n',
    );
    expect(mastodonBlockedDomainsCsv(snap)).toBe("bad.example\nworse.example\n");
    expect(mastodonBookmarksCsv(snap)).toBe(
      "https://social.example/users/bob/statuses/2\nhttps://fosstodon.example/users/zoe/statuses/1\n",
    );
    expect(mastodonFollowerAccts(snap)).toEqual(["bob@social.example", "fan@far.example"]);
    expect(mastodonFollowingCsvOf(snap)).toBe(
      "Account address,Show boosts,Notify on new posts,Languages\n" +
        'zed@far.example,false,false,"en, de"\n' +
        "bob@social.example,true,true,\n",
    );
    expect(Object.keys(mastodonExports(snap))).toEqual([
      "following_accounts.csv",
      "muted_accounts.csv",
      "blocked_accounts.csv",
      "lists.csv",
      "blocked_domains.csv",
      "bookmarks.csv",
    ]);
    // The old entry point still agrees.
    const follows = [sb.follow("ada", "bob", {}), sb.follow("ada", "zed@far.example", {})];
    expect(mastodonFollowingCsv(follows, "social.example")).toBe(mastodonFollowingCsvOf(snap));
    expect(mastodonBlockedAccountsCsv(sb.snapshotOf("bob"))).toBe("");
  });
});

describe("control endpoints", () => {
  it("seed and read the snapshot over HTTP", async () => {
    const { sb } = await withAda();
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${sb.url}/_sandbox/${path}`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(
      (await post("lists", { username: "ada", title: "L", members: ["m@x.example"] })).status,
    ).toBe(201);
    expect((await post("blocks", { username: "ada", acct: "b@x.example" })).body.id).toMatch(
      /^\d+$/,
    );
    expect(
      (await post("mutes", { username: "ada", acct: "c@x.example", hideNotifications: false }))
        .status,
    ).toBe(201);
    expect((await post("domain-blocks", { username: "ada", domain: "y.example" })).status).toBe(
      201,
    );
    expect(
      (
        await post("bookmarks", {
          username: "ada",
          statusUri: "https://x.example/users/d/statuses/5",
        })
      ).status,
    ).toBe(201);
    const seeded = await post("snapshot", { username: "ada", blocks: 5, bookmarks: 2 });
    expect(seeded.status).toBe(201);
    expect((seeded.body.blocks as unknown[]).length).toBe(6);
    expect((await post("blocks", { username: "ada", acct: "not an acct" })).status).toBe(400);

    const snap = (await (await fetch(`${sb.url}/_sandbox/snapshot?username=ada`)).json()) as Record<
      string,
      unknown[]
    >;
    expect(snap.lists).toHaveLength(1);
    expect(snap.mutes).toMatchObject([{ acct: "c@x.example", hideNotifications: false }]);
    expect(snap.domainBlocks).toMatchObject([{ domain: "y.example" }]);
    expect(snap.bookmarks).toHaveLength(3);
    expect(snap.following).toMatchObject([{ acct: "m@x.example" }]);
  });
});
