import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  checkAlias,
  checkMoved,
  describeAlias,
  describeMove,
  sameActor,
} from "../../src/clients/alias-check.js";
import {
  ACTIVITY_ACCEPT,
  MOVE_SUPPORT,
  moveSupport,
  supportsMove,
} from "../../src/clients/fediverse.js";
import { BadResponseError, RejectedError, UnreachableError } from "../../src/net/errors.js";
import {
  type Fixtures,
  mastodonActor,
  microblogActor,
  NEW_ACTOR,
  NEW_HANDLE,
  OLD_ACTOR,
  OLD_HANDLE,
  startFixtures,
} from "./fediverse-fixtures.js";

let f: Fixtures;
beforeEach(async () => {
  f = await startFixtures();
});
afterEach(async () => {
  await f.close();
});

const handles = { newHandle: NEW_HANDLE, oldHandle: OLD_HANDLE };

describe("FediverseClient.webfinger", () => {
  it("finds the actor and profile links, asking as Mastodon does, with or without the @", async () => {
    const a = await f.client.webfinger("@ada@micro.blog.example");
    const b = await f.client.webfinger("ada@micro.blog.example");
    expect(a).toEqual({
      subject: "acct:ada@micro.blog.example",
      actor: NEW_ACTOR,
      profile: NEW_ACTOR,
    });
    expect(b).toEqual(a);
    expect(f.micro.seen[0]).toEqual({
      path: "/.well-known/webfinger?resource=acct:ada@micro.blog.example",
      accept: "application/jrd+json, application/json",
    });
  });

  it("takes an ld+json self link with the ActivityStreams profile, and ignores other types", async () => {
    f.old.webfinger(
      "ld@old.example",
      "https://old.example/users/ld",
      'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    );
    f.old.webfinger("html@old.example", "https://old.example/users/html", "text/html");
    expect((await f.client.webfinger("ld@old.example"))?.actor).toBe(
      "https://old.example/users/ld",
    );
    expect((await f.client.webfinger("html@old.example"))?.actor).toBeUndefined();
  });

  it("returns null for a 404 (no such account)", async () => {
    expect(await f.client.webfinger("nobody@old.example")).toBeNull();
  });

  it("refuses a string that isn't a handle before going out", async () => {
    await expect(f.client.webfinger("ada")).rejects.toThrow(RangeError);
    expect(f.old.seen).toEqual([]);
  });
});

describe("FediverseClient.actor", () => {
  it("reads micro.blog's actor: aliases as an array, no manuallyApprovesFollowers means false", async () => {
    expect(await f.client.actor(NEW_ACTOR)).toEqual({
      id: NEW_ACTOR,
      type: "Person",
      preferredUsername: "ada",
      alsoKnownAs: [OLD_ACTOR],
      manuallyApprovesFollowers: false,
      followers: `${NEW_ACTOR}/followers`,
      url: NEW_ACTOR,
    });
    expect(f.micro.seen[0]).toEqual({ path: "/activitypub/ada", accept: ACTIVITY_ACCEPT });
  });

  it("reads Mastodon's actor: locked, moved, no aliases", async () => {
    f.old.actor(mastodonActor({ movedTo: NEW_ACTOR }));
    expect(await f.client.actor(OLD_ACTOR)).toEqual({
      id: OLD_ACTOR,
      type: "Person",
      preferredUsername: "ada",
      alsoKnownAs: [],
      movedTo: NEW_ACTOR,
      manuallyApprovesFollowers: true,
      followers: `${OLD_ACTOR}/followers`,
      url: "https://old.example/@ada",
    });
  });

  it("accepts alsoKnownAs as a single string", async () => {
    f.micro.actor(microblogActor({ alsoKnownAs: OLD_ACTOR }));
    expect((await f.client.actor(NEW_ACTOR)).alsoKnownAs).toEqual([OLD_ACTOR]);
  });

  it("keeps the URL's path and query when it maps the origin", async () => {
    await f.client.actor("https://old.example//evil.example/x?y=1").catch(() => undefined);
    expect(f.old.seen[0]?.path).toBe("//evil.example/x?y=1");
  });

  it("says so when a server answers with a web page", async () => {
    f.old.set("/users/ada", "<!DOCTYPE html><html><body>Ada</body></html>", {
      type: "text/html",
    });
    const err = await f.client.actor(OLD_ACTOR).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toBe("old.example answered with a web page instead of ActivityPub data");
    expect(err.host).toBe("old.example");
  });

  it("refuses an actor whose id is on another host", async () => {
    f.old.actor(mastodonActor({ id: NEW_ACTOR }), OLD_ACTOR);
    const err = await f.client.actor(OLD_ACTOR).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toBe(
      "old.example answered with an account on micro.blog.example, which it can't speak for",
    );
  });

  it("refuses something that isn't an account, or has no id", async () => {
    f.old.set("/users/ada", { id: OLD_ACTOR, type: "Note" });
    await expect(f.client.actor(OLD_ACTOR)).rejects.toThrow(
      "old.example answered with a Note, not an account",
    );
    f.old.set("/users/ada", { type: "Person" });
    await expect(f.client.actor(OLD_ACTOR)).rejects.toThrow(
      "old.example sent an ActivityPub actor I can't read (id)",
    );
  });

  it("names the server it could not reach by the host the user knows", async () => {
    const err = await f.client.actor("https://down.example/users/ada").catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.host).toBe("down.example");
    expect(err.message).toBe("down.example could not be reached");
  });

  it("explains a server in secure mode", async () => {
    f.old.set("/users/ada", { error: "Request not signed" }, { status: 401 });
    const err = await f.client.actor(OLD_ACTOR).catch((e) => e);
    expect(err).toBeInstanceOf(RejectedError);
    expect(err.message).toBe(
      "old.example only shows its accounts to signed requests (secure mode)",
    );
  });
});

describe("FediverseClient.actorOf", () => {
  it("goes from handle to actor", async () => {
    expect((await f.client.actorOf(OLD_HANDLE))?.id).toBe(OLD_ACTOR);
  });

  it("is null when WebFinger or the actor says there is no such account", async () => {
    expect(await f.client.actorOf("nobody@old.example")).toBeNull();
    f.old.webfinger("gone@old.example", "https://old.example/users/gone");
    f.old.set("/users/gone", { error: "Gone" }, { status: 410 });
    expect(await f.client.actorOf("gone@old.example")).toBeNull();
  });
});

describe("FediverseClient.nodeinfo", () => {
  const info = (version: string) => ({
    version,
    software: { name: "Mastodon", version: "4.3.2" },
    protocols: ["activitypub"],
    usage: { users: {} },
    openRegistrations: false,
  });

  it("picks the highest 2.x schema, wherever it is listed", async () => {
    f.old
      .set("/.well-known/nodeinfo", {
        links: [
          {
            rel: "http://nodeinfo.diaspora.software/ns/schema/2.1",
            href: "https://old.example/nodeinfo/2.1",
          },
          {
            rel: "http://nodeinfo.diaspora.software/ns/schema/2.0",
            href: "https://old.example/nodeinfo/2.0",
          },
        ],
      })
      .set("/nodeinfo/2.0", info("2.0"))
      .set("/nodeinfo/2.1", info("2.1"));
    expect(await f.client.nodeinfo("old.example")).toEqual({
      software: { name: "mastodon", version: "4.3.2" },
      protocols: ["activitypub"],
    });
    expect(f.old.seen.map((s) => s.path)).toEqual(["/.well-known/nodeinfo", "/nodeinfo/2.1"]);
  });

  it("takes 2.0 over 1.x, and a relative link", async () => {
    f.micro
      .set("/.well-known/nodeinfo", {
        links: [
          { rel: "http://nodeinfo.diaspora.software/ns/schema/1.0", href: "/nodeinfo/1.0" },
          { rel: "http://nodeinfo.diaspora.software/ns/schema/2.0", href: "/nodeinfo/2.0" },
        ],
      })
      .set("/nodeinfo/2.0", {
        software: { name: "gotosocial", version: "0.17.3" },
        protocols: ["activitypub"],
      });
    expect(await f.client.nodeinfo("micro.blog.example")).toEqual({
      software: { name: "gotosocial", version: "0.17.3" },
      protocols: ["activitypub"],
    });
    expect(f.micro.seen.at(-1)?.path).toBe("/nodeinfo/2.0");
  });

  it("refuses a server with no 2.x document", async () => {
    f.old.set("/.well-known/nodeinfo", {
      links: [{ rel: "http://nodeinfo.diaspora.software/ns/schema/1.1", href: "/nodeinfo/1.1" }],
    });
    await expect(f.client.nodeinfo("old.example")).rejects.toThrow(
      "old.example publishes no NodeInfo 2.x document",
    );
  });
});

describe("supportsMove", () => {
  it("knows the software in the reference, and says so for the rest", () => {
    for (const name of [
      "mastodon",
      "hometown",
      "misskey",
      "sharkey",
      "firefish",
      "iceshrimp",
      "friendica",
      "gotosocial",
      "pleroma",
      "akkoma",
      "micro.blog",
    ]) {
      expect(supportsMove(name), name).toBe("yes");
    }
    expect(supportsMove("Mastodon")).toBe("yes");
    expect(supportsMove("lemmy")).toBe("unknown");
    expect(supportsMove("toString")).toBe("unknown");
    expect(moveSupport("pixelfed").note).toBe(
      "It isn't known whether pixelfed follows a Move; its people may have to follow the new account by hand.",
    );
  });

  it("says no for versions before support came", () => {
    expect(supportsMove("mastodon", "2.6.5")).toBe("no");
    expect(supportsMove("mastodon", "4.2.10+glitch")).toBe("yes");
    expect(supportsMove("misskey", "13.11.3")).toBe("no");
    expect(supportsMove("misskey", "2024.11.0")).toBe("yes");
    expect(moveSupport("misskey", "13.11.3").note).toBe(
      "misskey 13.11.3 is older than 13.12.0, the first version that follows a Move.",
    );
  });

  it("warns that Pleroma and Akkoma keep following the old account", () => {
    expect(moveSupport("akkoma").note).toMatch(/don't unfollow the old one/);
    for (const entry of Object.values(MOVE_SUPPORT)) expect(entry.note).toMatch(/\.$/);
  });
});

describe("checkAlias", () => {
  it("ok: the new actor lists the old one", async () => {
    const v = await checkAlias(f.client, handles);
    expect(v).toMatchObject({ kind: "ok", oldActor: OLD_ACTOR, newActor: { id: NEW_ACTOR } });
    expect(describeAlias(v, handles)).toBe(
      "@ada@micro.blog.example lists @ada@old.example as an alias, so the move can go ahead.",
    );
  });

  it("near: a trailing slash or another case is refused, as Mastodon's exact check refuses it", async () => {
    for (const alias of [
      "https://old.example/users/ada/",
      "https://OLD.example/users/ada",
      "https://old.example/users/Ada",
    ]) {
      f.micro.actor(microblogActor({ alsoKnownAs: [alias] }));
      const v = await checkAlias(f.client, handles);
      expect(v, alias).toMatchObject({ kind: "near", alias, oldActor: OLD_ACTOR });
      expect(describeAlias(v, handles)).toBe(
        `@ada@micro.blog.example lists ${alias} as an alias, but Mastodon needs exactly ${OLD_ACTOR}: it compares the addresses letter for letter, so a capital letter or a trailing slash makes another one. Remove that alias and add @ada@old.example again.`,
      );
    }
    expect(sameActor(OLD_ACTOR, `${OLD_ACTOR}/`)).toBe(false);
    expect(sameActor(OLD_ACTOR, OLD_ACTOR.toUpperCase())).toBe(false);
    expect(sameActor(OLD_ACTOR, OLD_ACTOR)).toBe(true);
  });

  it("ok when the exact URI is among other aliases, near misses included", async () => {
    f.micro.actor(microblogActor({ alsoKnownAs: [`${OLD_ACTOR}/`, OLD_ACTOR] }));
    expect(await checkAlias(f.client, handles)).toMatchObject({ kind: "ok" });
  });

  it("ok when the old server wants signed requests: WebFinger names the old actor", async () => {
    f.old.set("/users/ada", { error: "Request not signed" }, { status: 401 });
    expect(await checkAlias(f.client, handles)).toMatchObject({ kind: "ok", oldActor: OLD_ACTOR });
  });

  it("missing: no aliases at all", async () => {
    f.micro.actor(microblogActor({ alsoKnownAs: undefined }));
    const v = await checkAlias(f.client, handles);
    expect(v).toMatchObject({ kind: "missing", aliases: [], oldActor: OLD_ACTOR });
    expect(describeAlias(v, handles)).toBe(
      "@ada@micro.blog.example doesn't list @ada@old.example as an alias yet: it has no aliases at all.",
    );
  });

  it("elsewhere: aliases that aren't the old account, named where they can be read", async () => {
    const typo = "https://old.example/users/adda";
    f.old.actor(mastodonActor({ id: typo, preferredUsername: "adda" }));
    f.micro.actor(microblogActor({ alsoKnownAs: [typo, "https://down.example/users/ada"] }));
    const v = await checkAlias(f.client, handles);
    expect(v).toMatchObject({
      kind: "elsewhere",
      aliases: [typo, "https://down.example/users/ada"],
      shown: ["@adda@old.example", "https://down.example/users/ada"],
    });
    expect(describeAlias(v, handles)).toBe(
      "@ada@micro.blog.example doesn't list @ada@old.example as an alias: it lists @adda@old.example and https://down.example/users/ada instead — check the spelling, or add @ada@old.example as well.",
    );
  });

  it("elsewhere: an alias naming the old account by its profile page is shown as that URL", async () => {
    f.old.actor(mastodonActor(), "https://old.example/@ada");
    f.micro.actor(microblogActor({ alsoKnownAs: ["https://old.example/@ada"] }));
    expect(await checkAlias(f.client, handles)).toMatchObject({
      kind: "elsewhere",
      shown: ["https://old.example/@ada"],
    });
  });

  it("no-account: new or old", async () => {
    const a = { newHandle: "bob@micro.blog.example", oldHandle: OLD_HANDLE };
    const va = await checkAlias(f.client, a);
    expect(va).toEqual({ kind: "no-account", which: "new", handle: "bob@micro.blog.example" });
    expect(describeAlias(va, a)).toBe(
      "micro.blog.example says there is no account @bob@micro.blog.example — check the spelling.",
    );
    const b = { newHandle: NEW_HANDLE, oldHandle: "@bob@old.example" };
    const vb = await checkAlias(f.client, b);
    expect(vb).toEqual({ kind: "no-account", which: "old", handle: "bob@old.example" });
    expect(describeAlias(vb, b)).toBe(
      "old.example says there is no account @bob@old.example — check the spelling.",
    );
  });

  it("unreachable: a server that is down, or an actor server that is down", async () => {
    const a = { newHandle: NEW_HANDLE, oldHandle: "ada@down.example" };
    const va = await checkAlias(f.client, a);
    expect(va).toEqual({
      kind: "unreachable",
      which: "old",
      host: "down.example",
      reason: "down.example could not be reached",
    });
    expect(describeAlias(va, a)).toBe(
      "I couldn't check @ada@down.example: down.example could not be reached.",
    );
    f.micro.webfinger("ada@micro.blog.example", "https://down.example/activitypub/ada");
    expect(await checkAlias(f.client, handles)).toEqual({
      kind: "unreachable",
      which: "new",
      host: "down.example",
      reason: "down.example could not be reached",
    });
  });

  it("unreachable: the new server answers with HTML", async () => {
    f.micro.set("/activitypub/ada", "<html><body>Ada's blog</body></html>", { type: "text/html" });
    const v = await checkAlias(f.client, handles);
    expect(describeAlias(v, handles)).toBe(
      "I couldn't check @ada@micro.blog.example: micro.blog.example answered with a web page instead of ActivityPub data.",
    );
  });
});

describe("checkMoved", () => {
  it("moved: the old actor points at the new one", async () => {
    f.old.actor(mastodonActor({ movedTo: NEW_ACTOR }));
    const v = await checkMoved(f.client, handles);
    expect(v).toEqual({ kind: "moved", to: NEW_ACTOR });
    expect(describeMove(v, handles)).toBe("@ada@old.example has moved to @ada@micro.blog.example.");
  });

  it("moved, forgiving a trailing slash on movedTo", async () => {
    f.old.actor(mastodonActor({ movedTo: `${NEW_ACTOR}/` }));
    expect((await checkMoved(f.client, handles)).kind).toBe("moved");
  });

  it("not-yet", async () => {
    const v = await checkMoved(f.client, handles);
    expect(v).toEqual({ kind: "not-yet" });
    expect(describeMove(v, handles)).toBe(
      "@ada@old.example hasn't moved yet: its profile doesn't point to a new account.",
    );
  });

  it("elsewhere: moved to another account", async () => {
    const other = "https://micro.blog.example/activitypub/ada2";
    f.micro.actor(microblogActor({ id: other, preferredUsername: "ada2" }));
    f.old.actor(mastodonActor({ movedTo: other }));
    const v = await checkMoved(f.client, handles);
    expect(v).toEqual({ kind: "elsewhere", to: other, shown: "@ada2@micro.blog.example" });
    expect(describeMove(v, handles)).toBe(
      "@ada@old.example has moved, but to @ada2@micro.blog.example, not to @ada@micro.blog.example.",
    );
  });

  it("no-account and unreachable", async () => {
    const gone = { newHandle: NEW_HANDLE, oldHandle: "bob@old.example" };
    expect(await checkMoved(f.client, gone)).toEqual({
      kind: "no-account",
      which: "old",
      handle: "bob@old.example",
    });
    f.old.set("/users/ada", { error: "Request not signed" }, { status: 401 });
    const v = await checkMoved(f.client, handles);
    expect(v).toMatchObject({ kind: "unreachable", which: "old", host: "old.example" });
    expect(describeMove(v, handles)).toBe(
      "I couldn't check @ada@old.example: old.example only shows its accounts to signed requests (secure mode).",
    );
  });
});
