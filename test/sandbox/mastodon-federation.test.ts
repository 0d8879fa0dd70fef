import { createRestAPIClient, MastoHttpError } from "masto";
import { describe, expect, it } from "vitest";
import {
  type MastodonAccount,
  type MastodonSandbox,
  type MastodonSandboxOptions,
  startMastodonSandbox,
  ValidationError,
} from "../../sandbox/mastodon.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();

async function start(opts: MastodonSandboxOptions = {}): Promise<MastodonSandbox> {
  return closing(await startMastodonSandbox(opts));
}

/** The old server (old.example) and the new one (new.example), seeing each other on loopback. */
async function pair(opts: { oldNow?: () => number } = {}) {
  const origins = new Map<string, string>();
  const originOf = (host: string) => origins.get(host);
  const old = await start({
    domain: "old.example",
    originOf,
    ...(opts.oldNow ? { now: opts.oldNow } : {}),
  });
  const neu = await start({ domain: "new.example", originOf });
  origins.set("old.example", old.url);
  origins.set("new.example", neu.url);
  const ada = old.addAccount({ username: "ada", displayName: "Ada Lovelace" });
  const bob = neu.addAccount({ username: "bob", displayName: "Bob" });
  return { old, neu, ada, bob };
}

const AP = { Accept: "application/activity+json" };

async function getJson(url: string, headers: Record<string, string> = AP) {
  const res = await fetch(url, { headers, redirect: "manual" });
  const text = await res.text();
  return {
    res,
    status: res.status,
    body: (text ? JSON.parse(text) : null) as Record<string, unknown>,
  };
}

async function rejected(p: Promise<unknown>): Promise<ValidationError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error("expected a ValidationError");
}

describe("WebFinger", () => {
  it("serves the JRD for acct:user@DOMAIN and for the actor URL", async () => {
    const sb = await start({ domain: "old.example" });
    sb.addAccount({ username: "ada" });
    const jrd = {
      subject: "acct:ada@old.example",
      aliases: ["https://old.example/@ada", "https://old.example/users/ada"],
      links: [
        {
          rel: "http://webfinger.net/rel/profile-page",
          type: "text/html",
          href: "https://old.example/@ada",
        },
        { rel: "self", type: "application/activity+json", href: "https://old.example/users/ada" },
        {
          rel: "http://ostatus.org/schema/1.0/subscribe",
          template: "https://old.example/authorize_interaction?uri={uri}",
        },
      ],
    };
    for (const resource of [
      "acct:ada@old.example",
      "ada@old.example",
      "acct:ADA@Old.Example",
      "https://old.example/users/ada",
      "https://old.example/@ada",
    ]) {
      const r = await getJson(
        `${sb.url}/.well-known/webfinger?resource=${encodeURIComponent(resource)}`,
        {},
      );
      expect(r.status).toBe(200);
      expect(r.res.headers.get("content-type")).toBe("application/jrd+json; charset=utf-8");
      expect(r.body).toEqual(jrd);
    }
  });

  it("is 404 for unknown accounts and other domains, 400 without a usable resource", async () => {
    const sb = await start({ domain: "old.example" });
    sb.addAccount({ username: "ada" });
    const status = async (query: string) =>
      (await fetch(`${sb.url}/.well-known/webfinger${query}`)).status;
    expect(await status("?resource=acct:nobody@old.example")).toBe(404);
    expect(await status("?resource=acct:ada@elsewhere.example")).toBe(404);
    expect(await status("?resource=https://old.example/about")).toBe(404);
    expect(await status("")).toBe(400);
    expect(await status("?resource=")).toBe(400);
    expect(await status("?resource=ada")).toBe(400);
  });
});

describe("actor and collections", () => {
  it("serializes a local account as Mastodon's ActorSerializer does", async () => {
    const sb = await start({ domain: "old.example" });
    sb.addAccount({ username: "ada", displayName: "Ada Lovelace", note: "<p>Hi</p>" });
    const r = await getJson(`${sb.url}/users/ada`);
    expect(r.status).toBe(200);
    expect(r.res.headers.get("content-type")).toBe("application/activity+json; charset=utf-8");
    const id = "https://old.example/users/ada";
    expect(r.body).toMatchObject({
      id,
      type: "Person",
      following: `${id}/following`,
      followers: `${id}/followers`,
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      preferredUsername: "ada",
      name: "Ada Lovelace",
      summary: "<p>Hi</p>",
      url: "https://old.example/@ada",
      manuallyApprovesFollowers: false,
      discoverable: false,
      publicKey: { id: `${id}#main-key`, owner: id },
      endpoints: { sharedInbox: "https://old.example/inbox" },
    });
    expect((r.body.publicKey as { publicKeyPem: string }).publicKeyPem).toMatch(
      /^-----BEGIN PUBLIC KEY-----\n/,
    );
    expect(r.body["@context"]).toContainEqual(
      expect.objectContaining({ alsoKnownAs: { "@id": "as:alsoKnownAs", "@type": "@id" } }),
    );
    expect(r.body.published).toMatch(/^\d{4}-\d\d-\d\dT00:00:00Z$/);
    expect("alsoKnownAs" in r.body).toBe(false);
    expect("movedTo" in r.body).toBe(false);

    sb.setLocked("ada", true);
    expect((await getJson(`${sb.url}/users/ada`)).body.manuallyApprovesFollowers).toBe(true);
    expect(sb.getAccount("ada")?.locked).toBe(true);
    // application/ld+json and /@ada with a JSON Accept give the actor too.
    const ld = await getJson(`${sb.url}/@ada`, {
      Accept: 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    });
    expect(ld.body.id).toBe(id);
  });

  it("redirects /users/:username to the HTML profile for browsers; 404 for unknown actors", async () => {
    const sb = await start({ domain: "old.example" });
    sb.addAccount({ username: "ada" });
    const res = await fetch(`${sb.url}/users/ada`, { redirect: "manual" });
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("https://old.example/@ada");
    const page = await fetch(`${sb.url}/@ada`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain("@ada@old.example");

    const missing = await getJson(`${sb.url}/users/nobody`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: "Not Found" });
    expect((await fetch(`${sb.url}/@nobody`)).status).toBe(404);
  });

  it("serves followers as an OrderedCollection with 12-item pages, newest first", async () => {
    const sb = await start({ domain: "old.example" });
    sb.addAccount({ username: "ada" });
    const fans = sb.seedFollowers("ada", 30);
    const id = "https://old.example/users/ada/followers";
    const root = await getJson(`${sb.url}/users/ada/followers`);
    expect(root.body).toEqual({
      "@context": "https://www.w3.org/ns/activitystreams",
      id,
      type: "OrderedCollection",
      totalItems: 30,
      first: `${id}?page=1`,
    });
    const uri = (acct: string) => {
      const [user, host] = acct.split("@");
      return `https://${host}/users/${user}`;
    };
    const p1 = await getJson(`${sb.url}/users/ada/followers?page=1`);
    expect(p1.body).toMatchObject({
      id: `${id}?page=1`,
      type: "OrderedCollectionPage",
      totalItems: 30,
      next: `${id}?page=2`,
      partOf: id,
    });
    expect("prev" in p1.body).toBe(false);
    expect(p1.body.orderedItems).toEqual(
      fans
        .slice(-12)
        .reverse()
        .map((f) => uri(f.acct)),
    );
    const p3 = await getJson(`${sb.url}/users/ada/followers?page=3`);
    expect(p3.body).toMatchObject({ prev: `${id}?page=2` });
    expect("next" in p3.body).toBe(false);
    expect(p3.body.orderedItems).toHaveLength(6);

    const following = await getJson(`${sb.url}/users/ada/following`);
    expect(following.body).toMatchObject({ type: "OrderedCollection", totalItems: 0 });
  });

  it("shows only totalItems of a hidden collection and refuses its pages", async () => {
    const sb = await start({ domain: "old.example" });
    sb.addAccount({ username: "ada", hideCollections: true });
    sb.seedFollowers("ada", 3);
    const root = await getJson(`${sb.url}/users/ada/followers`);
    expect(root.body).toEqual({
      "@context": "https://www.w3.org/ns/activitystreams",
      id: "https://old.example/users/ada/followers",
      type: "OrderedCollection",
      totalItems: 3,
    });
    const page = await getJson(`${sb.url}/users/ada/followers?page=1`);
    expect(page.status).toBe(403);
    expect(page.body).toEqual({ error: "Forbidden" });
  });
});

describe("aliases and the Move between two stand-ins", () => {
  it("validates like AccountMigration, re-fetching the target, then moves", async () => {
    let now = Date.UTC(2026, 10, 27, 9, 0, 0);
    const { old, neu, ada } = await pair({ oldNow: () => now });
    const token = old.issueToken("ada", ["read"]);
    const client = createRestAPIClient({ url: old.url, accessToken: token });

    // No alias yet: the new account is found (and now known to the old server) but refused.
    let err = await rejected(old.performMove("ada", "bob@new.example"));
    expect(err.message).toBe("Validation failed: Acct is not an alias of this account");
    expect(err.errors).toEqual([
      {
        attribute: "acct",
        type: "missing_also_known_as",
        message: "Acct is not an alias of this account",
      },
    ]);
    for (const acct of ["nobody@new.example", "someone@unmapped.example"]) {
      err = await rejected(old.performMove("ada", acct));
      expect(err.message).toBe("Validation failed: Acct could not be found");
    }

    // Aliases on the new server, resolving the old account through originOf.
    expect(await neu.addAlias("bob", "@ada@old.example")).toEqual([
      "https://old.example/users/ada",
    ]);
    expect((await getJson(`${neu.url}/users/bob`)).body.alsoKnownAs).toEqual([
      "https://old.example/users/ada",
    ]);
    expect(neu.getAccount("ada@old.example")?.uri).toBe("https://old.example/users/ada");
    expect((await rejected(neu.addAlias("bob", "ada@old.example"))).message).toBe(
      "Validation failed: Uri has already been taken",
    );
    expect((await rejected(neu.addAlias("bob", "bob"))).message).toBe(
      "Validation failed: Acct cannot be current account",
    );
    expect((await rejected(neu.addAlias("bob", "ghost@old.example"))).message).toBe(
      "Validation failed: Acct could not be found",
    );

    // The old server knew bob@new.example without the alias; the Move fetches it again.
    neu.resetLog();
    const moved = await old.performMove("ada", "bob@new.example");
    expect(neu.requests.map((r) => r.path.split("?")[0])).toEqual(
      expect.arrayContaining(["/.well-known/webfinger", "/users/bob"]),
    );
    expect(moved.moved?.acct).toBe("bob@new.example");
    expect(old.migrationsOf("ada")).toEqual([
      { acct: "bob@new.example", targetAccountId: moved.moved!.id, at: now, followersCount: 0 },
    ]);

    // What others see: `moved` in the public API (nested without its own), movedTo in the actor.
    const anonymous = createRestAPIClient({ url: old.url });
    const looked = await anonymous.v1.accounts.lookup({ acct: "ada" });
    expect(looked.moved).toMatchObject({
      acct: "bob@new.example",
      uri: "https://new.example/users/bob",
      displayName: "Bob",
    });
    const raw = (await (await fetch(`${old.url}/api/v1/accounts/${ada.id}`)).json()) as {
      moved: Record<string, unknown>;
    };
    expect("moved" in raw.moved).toBe(false);
    expect((await getJson(`${old.url}/users/ada`)).body.movedTo).toBe(
      "https://new.example/users/bob",
    );
    // The old login is disabled.
    const disabled = await client.v1.accounts.verifyCredentials().catch((e: unknown) => e);
    expect(disabled).toBeInstanceOf(MastoHttpError);
    expect((disabled as MastoHttpError).statusCode).toBe(403);
    expect((disabled as MastoHttpError).message).toBe("Your login is currently disabled");

    // Again within 30 days, to the same account or to itself.
    now += 10 * 86_400_000;
    err = await rejected(old.performMove("ada", "bob@new.example"));
    expect(err.errors.map((e) => e.message)).toEqual([
      "You are on cooldown",
      "Acct is the same account you have already moved to",
    ]);
    err = await rejected(old.performMove("ada", "ada"));
    expect(err.errors.map((e) => e.type)).toEqual([
      "on_cooldown",
      "missing_also_known_as",
      "move_to_self",
    ]);

    // After the cooldown, on to another account.
    neu.addAccount({ username: "carol" });
    await neu.addAlias("carol", "https://old.example/users/ada");
    err = await rejected(old.performMove("ada", "carol@new.example", { at: now }));
    expect(err.errors.map((e) => e.type)).toEqual(["on_cooldown"]);
    const again = await old.performMove("ada", "carol@new.example", {
      at: Date.UTC(2026, 11, 28, 9, 0, 0),
    });
    expect(again.moved?.acct).toBe("carol@new.example");
    expect(old.migrationsOf("ada")).toHaveLength(2);

    // removeAlias takes the acct it was added with, or the URI.
    expect(neu.removeAlias("bob", "ada@old.example")).toBe(true);
    expect(neu.alsoKnownAs("bob")).toEqual([]);
    expect(neu.removeAlias("carol", "https://old.example/users/ada")).toBe(true);
    expect(neu.removeAlias("carol", "https://old.example/users/ada")).toBe(false);
  });

  it("accepts a resolveActor hook (e.g. a micro.blog-style actor id)", async () => {
    const sb = await start({
      domain: "old.example",
      resolveActor: async (acct) =>
        acct === "ada@micro.blog"
          ? {
              id: "https://micro.blog/activitypub/ada",
              alsoKnownAs: ["https://old.example/users/ada"],
            }
          : null,
    });
    sb.addAccount({ username: "ada" });
    const moved = await sb.performMove("ada", "ada@micro.blog");
    expect(moved.moved).toMatchObject({
      acct: "ada@micro.blog",
      uri: "https://micro.blog/activitypub/ada",
    });
    expect((await getJson(`${sb.url}/users/ada`)).body.movedTo).toBe(
      "https://micro.blog/activitypub/ada",
    );
  });
});

describe("followers leaving after the Move", () => {
  it("leave tick by tick, local ones at once, stragglers never", async () => {
    let now = Date.UTC(2026, 10, 27, 9, 0, 0);
    const { old, neu, ada } = await pair({ oldNow: () => now });
    const domains = ["a.example", "b.example", "c.example", "slow.example"];
    const fans = old.seedFollowers("ada", 20, { domains });
    const stragglers = fans.filter((f) => f.acct.endsWith("@slow.example")).map((f) => f.acct);
    expect(stragglers.length).toBe(5);
    old.addAccount({ username: "carl" });
    old.follow("carl", "ada", { notify: true });
    await neu.addAlias("bob", "ada@old.example");

    const left: string[] = [];
    await old.performMove("ada", "bob@new.example", {
      transfer: {
        perTick: 4,
        tickMs: 60_000,
        stragglers: ["slow.example"],
        onLeave: (f) => {
          left.push(f.acct);
          neu.follow(f.acct, "bob");
        },
      },
    });
    // MoveWorker: the local follower left at once, with a request to the new account.
    expect(old.followersOf("ada")).not.toContain("carl");
    expect(old.snapshotOf("carl").following).toEqual([]);
    expect(old.acceptPendingFollows({ follower: "carl" })).toBe(1);
    expect(old.snapshotOf("carl").following).toMatchObject([
      { acct: "bob@new.example", notify: true },
    ]);

    const anonymous = createRestAPIClient({ url: old.url });
    const count = async () => (await anonymous.v1.accounts.$select(ada.id).fetch()).followersCount;
    expect(await count()).toBe(20);
    now += 59_999;
    expect(await count()).toBe(20);
    now += 1;
    expect(await count()).toBe(16);
    now += 120_000;
    expect(await count()).toBe(8);
    expect(left).toEqual(
      fans
        .filter((f) => !stragglers.includes(f.acct))
        .map((f) => f.acct)
        .slice(0, 12),
    );
    now += 86_400_000;
    expect(await count()).toBe(5);
    expect(old.followersOf("ada")).toEqual(stragglers);
    const list = await anonymous.v1.accounts.$select(ada.id).followers.list({ limit: 80 });
    expect(list.map((a) => a.acct).sort()).toEqual([...stragglers].sort());
    expect(old.transferNow("ada", 10)).toBe(0);
    expect(neu.getAccount("bob")?.followers_count).toBe(15);
  });

  it("transferNow moves n at once, oldest follow first", async () => {
    const { old, neu } = await pair();
    const fans = old.seedFollowers("ada", 10);
    expect(() => old.transferNow("ada", 3)).toThrow(/has not moved/);
    await neu.addAlias("bob", "ada@old.example");
    await old.performMove("ada", "bob@new.example");
    expect(old.followersOf("ada")).toHaveLength(10);
    expect(old.transferNow("ada", 3)).toBe(3);
    expect(old.followersOf("ada")).toEqual(fans.slice(3).map((f) => f.acct));
    expect(old.getAccount("ada")?.followers_count).toBe(7);
  });
});

describe("control endpoints", () => {
  it("wire origins, alias, lock, move and transfer over HTTP", async () => {
    // As two sandbox processes would be: no originOf, wired once both ports are known.
    const old = await start({ domain: "old.example" });
    const neu = await start({ domain: "new.example" });
    const post = async (sb: MastodonSandbox, path: string, body: unknown) => {
      const res = await fetch(`${sb.url}/_sandbox/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    await post(old, "accounts", { username: "ada" });
    await post(neu, "accounts", { username: "bob" });
    await post(old, "seed-followers", { username: "ada", n: 4 });
    let r = await post(neu, "aliases", { username: "bob", acct: "ada@old.example" });
    expect(r.status).toBe(422);
    expect(r.body.error).toBe("Validation failed: Acct could not be found");
    const origins = { "old.example": old.url, "new.example": neu.url };
    expect((await post(old, "origins", { origins })).status).toBe(200);
    expect((await post(neu, "origins", { origins })).status).toBe(200);
    r = await post(old, "perform-move", { username: "ada", target: "bob@new.example" });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({
      error: "Validation failed: Acct is not an alias of this account",
      errors: [
        {
          attribute: "acct",
          type: "missing_also_known_as",
          message: "Acct is not an alias of this account",
        },
      ],
    });
    r = await post(neu, "aliases", { username: "bob", acct: "ada@old.example" });
    expect(r).toEqual({ status: 201, body: { alsoKnownAs: ["https://old.example/users/ada"] } });
    r = await post(neu, "locked", { username: "bob", locked: true });
    expect((r.body as unknown as MastodonAccount).locked).toBe(true);
    r = await post(old, "perform-move", {
      username: "ada",
      target: "bob@new.example",
      transfer: { perTick: 1, tickMs: 3_600_000 },
    });
    expect(r.status).toBe(200);
    expect((r.body as unknown as MastodonAccount).moved?.locked).toBe(true);
    r = await post(old, "transfer", { username: "ada", n: 3 });
    expect(r.body).toEqual({ moved: 3, remaining: 1 });
    const left = (await (await fetch(`${old.url}/_sandbox/followers?username=ada`)).json()) as {
      count: number;
      followers: string[];
    };
    expect(left.count).toBe(1);
    r = await post(neu, "remove-alias", { username: "bob", acct: "ada@old.example" });
    expect(r.body).toEqual({ removed: true, alsoKnownAs: [] });
    expect((await post(old, "transfer", { username: "nobody", n: 1 })).status).toBe(400);
  });
});
