/**
 * The sign-in client on its own: which scopes each Mastodon version is asked for,
 * and what it does when the server has deleted its app.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { atLeast, serverHas } from "../../src/clients/mastodon-versions.js";
import { MastodonOAuth } from "../../src/clients/oauth.js";
import { AppGoneError, READ_SCOPES, SignIn, scopesFor } from "../../src/clients/sign-in.js";
import { GuardedDispatcher } from "../../src/net/dispatcher.js";
import { RejectedError } from "../../src/net/errors.js";
import { Http } from "../../src/net/http.js";
import { Pacer } from "../../src/net/pacer.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { Sealer } from "../../src/store/seal.js";
import { closedAfterEach } from "../helpers/closing.js";

describe("scopesFor", () => {
  it("asks each version only for scopes it has", () => {
    expect(scopesFor("4.3.2")).toBe(READ_SCOPES);
    expect(scopesFor("3.1.0")).toBe(READ_SCOPES);
    expect(READ_SCOPES).toContain("read:bookmarks");
    expect(scopesFor("3.0.2")).toBe("read:accounts read:follows read:lists read:blocks read:mutes");
    expect(scopesFor("3.0.2+glitch")).toBe(scopesFor("3.0.2"));
    expect(scopesFor("2.4.3")).toBe(scopesFor("3.0.2"));
    expect(scopesFor("2.4.2")).toBe("read");
    expect(scopesFor("0.0.0")).toBe("read");
  });

  it("a compatibility level is not Mastodon's version: bookmarks are asked for as before", () => {
    // Pleroma and Akkoma report the Mastodon API level they mimic; they have bookmarks.
    expect(scopesFor("2.7.2 (compatible; Pleroma 2.6.1)")).toBe(READ_SCOPES);
    expect(serverHas("bookmarks", "2.7.2 (compatible; Akkoma 3.13.2)")).toBe(true);
    expect(serverHas("bookmarks", "0.17.3 git-6b6d9ba")).toBe(true);
    expect(serverHas("bookmarks", "0.0.0")).toBe(true);
  });

  it("the new account: granular follow scopes from 2.4.3, `follow` before", () => {
    expect(scopesFor("4.3.2", "new")).toBe("read:accounts read:follows read:search write:follows");
    expect(scopesFor("2.4.2", "new")).toBe("read follow");
  });
});

describe("versions", () => {
  it("reads versions as servers report them", () => {
    expect(atLeast("3.1.0", [3, 1, 0])).toBe(true);
    expect(atLeast("3.1.0rc1", [3, 1, 0])).toBe(true);
    expect(atLeast("3.0.99", [3, 1, 0])).toBe(false);
    expect(atLeast("4.4.0-beta.1", [4, 4, 0])).toBe(true);
    expect(atLeast("10.0.0", [3, 1, 0])).toBe(true);
  });

  it("bookmarks exist from 3.1; unknown versions are read in full", () => {
    expect(serverHas("bookmarks", "3.0.2")).toBe(false);
    expect(serverHas("bookmarks", "3.1.0")).toBe(true);
    expect(serverHas("bookmarks", undefined)).toBe(true);
    expect(serverHas("blocks", "2.0.0")).toBe(true);
  });
});

describe("an app the server has deleted", () => {
  const closing = closedAfterEach<MastodonSandbox>();
  const DAY = 24 * 60 * 60_000;

  async function setup(version: string) {
    let clock = Date.UTC(2024, 3, 1);
    const now = () => clock;
    const sb = closing(
      await startMastodonSandbox({ domain: "old.example", version, rateLimit: null, now }),
    );
    sb.addAccount({ username: "ada" });
    const http = new Http(new GuardedDispatcher(new Pacer(50), true), 5000, 20);
    const signIn = new SignIn(
      new MastodonOAuth(http),
      openMemoryStore(),
      new Sealer(randomBytes(32)),
      {
        now,
      },
    );
    const instance = { origin: sb.url, version };
    const registered = () =>
      sb.requests.filter((q) => q.method === "POST" && q.path === "/api/v1/apps").length;
    return { sb, signIn, instance, registered, later: (ms: number) => (clock += ms) };
  }

  it("finish: invalid_client is AppGoneError, and the next begin registers a new app", async () => {
    const { sb, signIn, instance, registered, later } = await setup("4.2.0");
    const begun = await signIn.begin("tg:1", instance);
    later(DAY - 5 * 60_000);
    const { code } = sb.authorize("ada", begun.url);
    later(11 * 60_000);
    const err = await signIn.finish(sb.url, begun.verifier, code).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppGoneError);
    expect(err).toBeInstanceOf(RejectedError);
    expect(err).toMatchObject({ status: 401, detail: "invalid_client" });
    expect((err as Error).message).not.toContain(code);

    const again = await signIn.begin("tg:1", instance);
    expect(registered()).toBe(2);
    const { token } = await signIn.finish(
      sb.url,
      again.verifier,
      sb.authorize("ada", again.url).code,
    );
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("a young app is not checked; an old one is, and one the check can't judge is kept", async () => {
    const { sb, signIn, instance, registered, later } = await setup("4.3.2");
    await signIn.begin("tg:1", instance);
    later(DAY - 11 * 60_000);
    await signIn.begin("tg:2", instance);
    expect(sb.requests.filter((q) => q.path === "/oauth/revoke")).toEqual([]);
    later(60 * 60_000);
    sb.failNext(1, { status: 404, body: "Not found", path: "/oauth/revoke" });
    await signIn.begin("tg:3", instance);
    expect(registered()).toBe(1);
  });
});

describe("two sign-ins beginning together", () => {
  const closing = closedAfterEach<MastodonSandbox>();

  it("share one app, so both codes can be traded (found by the reliability harness)", async () => {
    const sb = closing(await startMastodonSandbox({ domain: "old.example", rateLimit: null }));
    sb.addAccount({ username: "ada" });
    sb.addAccount({ username: "bob" });
    const http = new Http(new GuardedDispatcher(new Pacer(50), true), 5000, 20);
    const store = openMemoryStore();
    const sealer = new Sealer(randomBytes(32));
    // Two processes on one store: each its own SignIn.
    const one = new SignIn(new MastodonOAuth(http), store, sealer, {});
    const two = new SignIn(new MastodonOAuth(http), store, sealer, {});
    const instance = { origin: sb.url, version: "4.3.2" };
    const [ada, bob] = await Promise.all([
      one.begin("tg:1", instance),
      two.begin("tg:2", instance),
    ]);
    const apps = sb.requests.filter((q) => q.method === "POST" && q.path === "/api/v1/apps");
    expect(apps).toHaveLength(1);
    const adaCode = sb.authorize("ada", ada.url).code;
    const bobCode = sb.authorize("bob", bob.url).code;
    await expect(one.finish(sb.url, ada.verifier, adaCode)).resolves.toMatchObject({
      token: expect.any(String),
    });
    await expect(two.finish(sb.url, bob.verifier, bobCode)).resolves.toMatchObject({
      token: expect.any(String),
    });
  });
});
