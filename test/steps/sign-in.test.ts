/**
 * Signing in to the old account by OAuth against the Mastodon stand-in, and the
 * snapshot that follows: by a pasted code (no PUBLIC_URL) and by the callback
 * page (PUBLIC_URL), with the ways it goes wrong.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { mastodonExports, mastodonFollowerAccts } from "../../sandbox/mastodon-export.js";
import { oauthCallback } from "../../src/channels/web/oauth-callback.js";
import { startWeb } from "../../src/channels/web/server.js";
import type { Reply } from "../../src/chat/conversation.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { Sealer } from "../../src/store/seal.js";
import { makeChat } from "../helpers/chat.js";
import { unzip } from "../helpers/unzip.js";

let sandbox: MastodonSandbox | undefined;
let web: Server | undefined;
afterEach(async () => {
  await sandbox?.close();
  await new Promise((r) => (web ? web.close(r) : r(undefined)));
  sandbox = undefined;
  web = undefined;
});

let clock = Date.now();
const now = () => clock;

async function server(version = "4.3.2") {
  clock = Date.now();
  sandbox = await startMastodonSandbox({ domain: "old.example", version, rateLimit: null, now });
  sandbox.addAccount({ username: "ada" });
  return sandbox;
}

/** The sign-in link from the bot's last message, as the user would tap it. */
function signInLink(replies: readonly Reply[]): string {
  for (const r of replies)
    if (r.kind === "say")
      for (const l of r.links ?? []) if (l.label.startsWith("Sign in")) return l.url;
  throw new Error("no sign-in link");
}

async function toSignIn(chat: Awaited<ReturnType<typeof makeChat>>) {
  await chat.send("/start");
  const r = await chat.send(sandbox!.url);
  return signInLink(r.replies);
}

const said = (replies: readonly Reply[]) =>
  replies.map((r) =>
    r.kind === "file"
      ? `📎 ${r.name}`
      : r.text.map((p) => (typeof p === "string" ? p : Object.values(p)[0])).join(""),
  );

describe("sign in by a pasted code (no PUBLIC_URL)", () => {
  it("PKCE on 4.3: the code signs in, and the snapshot matches Mastodon's own exports file by file", async () => {
    const s = await server("4.3.2");
    s.seedFollows("ada", 250);
    s.seedFollowers("ada", 300);
    s.seedSnapshot("ada", { lists: 3, blocks: 12, mutes: 4, domainBlocks: 2, bookmarks: 88 });
    const chat = await makeChat({ now });
    const link = await toSignIn(chat);
    const url = new URL(link);
    expect(url.searchParams.get("scope")).toBe(
      "read:accounts read:follows read:lists read:blocks read:mutes read:bookmarks",
    );
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("redirect_uri")).toBe("urn:ietf:wg:oauth:2.0:oob");

    const { code } = s.authorize("ada", link);
    const r = await chat.send(code);
    expect(r.secret).toBe(true);
    expect(r.text).toBe(
      "Signed in as @ada@old.example. Saving everything the move will lock away…",
    );
    await chat.jobs.idle();

    const snapshot = s.snapshotOf("ada");
    const expected = mastodonExports(snapshot);
    const lines = said(chat.notified.filter((x) => x.kind !== "progress"));
    // Members of a list must be followed, so the stand-in follows them too: more than the 250 seeded.
    expect(lines[0]).toBe(
      `Saved: ${snapshot.following.length} follows, 300 followers, 3 lists, 12 blocks, 4 mutes, 2 blocked domains, 88 bookmarks.`,
    );
    const files = chat.notified.filter((x) => x.kind === "file");
    expect(files.map((f) => f.name)).toEqual([
      "following_accounts.csv",
      expect.stringMatching(/^old\.example-ada-\d{4}-\d\d-\d\d\.zip$/),
    ]);
    expect(new TextDecoder().decode(files[0]!.bytes)).toBe(expected["following_accounts.csv"]);
    const zipped = unzip(files[1]!.bytes);
    for (const [name, content] of Object.entries(expected))
      expect(zipped[name], name).toBe(content);
    expect(zipped["followers.csv"]).toBe(
      `${["Account address", ...mastodonFollowerAccts(snapshot)].join("\n")}\n`,
    );
  });

  it("no PKCE on a 4.2 server, which has no discovery document; sign-in still works", async () => {
    await server("4.2.10");
    const chat = await makeChat({ now });
    const link = await toSignIn(chat);
    expect(new URL(link).searchParams.has("code_challenge")).toBe(false);
    const r = await chat.send(sandbox!.authorize("ada", link).code);
    expect(r.text).toMatch(/^Signed in as @ada@old\.example/);
    await chat.jobs.idle();
  });

  it("a 3.0 server: asks only for scopes it has, and says bookmarks weren't there to save", async () => {
    const s = await server("3.0.2");
    s.seedFollows("ada", 5);
    s.block("ada", "troll@a.example");
    const chat = await makeChat({ now });
    const link = await toSignIn(chat);
    expect(new URL(link).searchParams.get("scope")).toBe(
      "read:accounts read:follows read:lists read:blocks read:mutes",
    );
    const r = await chat.send(s.authorize("ada", link).code);
    expect(r.text).toBe(
      "Signed in as @ada@old.example. Saving everything the move will lock away…",
    );
    await chat.jobs.idle();
    const lines = said(chat.notified.filter((x) => x.kind === "say"));
    expect(lines[0]).toBe(
      "Saved: 5 follows, 0 followers, 0 lists, 1 blocks, 0 mutes, 0 blocked domains, 0 bookmarks.\n" +
        `${new URL(s.url).host} runs Mastodon 3.0.2, which has no bookmarks (they came in 3.1), so there were none to save.`,
    );
    expect(s.requests.filter((q) => q.path.startsWith("/api/v1/bookmarks"))).toEqual([]);
    expect((await chat.state())?.step).toBe("new-choose");
  });

  it("a server before 2.4.3 knows only `read`, and a pasted token is asked for with what it has", async () => {
    await server("2.4.2");
    const chat = await makeChat({ now });
    const link = await toSignIn(chat);
    expect(new URL(link).searchParams.get("scope")).toBe("read");
    const r = await chat.press("Paste a token instead");
    expect(r.text).toContain("tick only: read.");
  });

  it("a code used twice is refused with the reason, and the step stays", async () => {
    const s = await server();
    const chat = await makeChat({ now });
    const link = await toSignIn(chat);
    const { code } = s.authorize("ada", link);
    await chat.send(code);
    await chat.jobs.idle();
    await chat.send("/cancel");
    const again = await toSignIn(chat);
    const before = await chat.state();
    const r = await chat.send(code);
    expect(r.secret).toBe(true);
    expect(r.text).toBe(
      `${new URL(s.url).host} didn't accept that code: it was already used, has expired (codes last 10 minutes), or belongs to another sign-in. Tap "Sign in" for a new one.`,
    );
    expect(signInLink(r.replies)).toBe(again);
    expect(await chat.state()).toEqual(before);
  });

  it("a code pasted too late (over 10 minutes) is refused", async () => {
    const s = await server();
    const chat = await makeChat({ now });
    const { code } = s.authorize("ada", await toSignIn(chat));
    clock += 11 * 60_000;
    const r = await chat.send(code);
    expect(r.text).toMatch(/didn't accept that code: it was already used, has expired/);
    expect((await chat.state())?.step).toBe("old-sign-in");
  });

  it("registers the bot once per server, not once per user", async () => {
    const s = await server();
    const store = openMemoryStore();
    const sealer = new Sealer(randomBytes(32));
    for (const user of ["tg:1", "tg:2", "tg:3"] as const) {
      const chat = await makeChat(
        { now },
        {
          store,
          sealer,
          user,
        },
      );
      await toSignIn(chat);
    }
    expect(s.requests.filter((q) => q.method === "POST" && q.path === "/api/v1/apps")).toHaveLength(
      1,
    );
  });
});

describe("an app the server deleted (ApplicationsVacuum, Mastodon 4.2.0–4.2.8)", () => {
  const HOUR = 60 * 60_000;
  const registrations = (s: MastodonSandbox) =>
    s.requests.filter((q) => q.method === "POST" && q.path === "/api/v1/apps").length;

  it("begin: an app over a day old is checked, and replaced when the server has deleted it", async () => {
    const s = await server("4.2.5");
    const store = openMemoryStore();
    const sealer = new Sealer(randomBytes(32));
    const first = await makeChat({ now }, { store, sealer, user: "tg:1" });
    const stale = await toSignIn(first);
    // Nobody signed in with it: a day later the server's vacuum deletes the app.
    clock += 25 * HOUR;
    expect(() => s.authorize("ada", stale)).toThrow(/invalid_client/);

    const second = await makeChat({ now }, { store, sealer, user: "tg:2" });
    const link = await toSignIn(second);
    expect(new URL(link).searchParams.get("client_id")).not.toBe(
      new URL(stale).searchParams.get("client_id"),
    );
    expect(registrations(s)).toBe(2);
    // The check: revoking a token that doesn't exist, which a gone client can't do.
    expect(s.requests.filter((q) => q.path === "/oauth/revoke").map((q) => q.status)).toEqual([
      403,
    ]);
    const r = await second.send(s.authorize("ada", link).code);
    expect(r.text).toBe(
      "Signed in as @ada@old.example. Saving everything the move will lock away…",
    );
    await second.jobs.idle();
  });

  it("begin: an app the server still knows is kept, checked without side effects", async () => {
    const s = await server("4.3.2");
    const store = openMemoryStore();
    const sealer = new Sealer(randomBytes(32));
    const first = await makeChat({ now }, { store, sealer, user: "tg:1" });
    const before = await toSignIn(first);
    clock += 25 * HOUR;
    const second = await makeChat({ now }, { store, sealer, user: "tg:2" });
    const link = await toSignIn(second);
    expect(new URL(link).searchParams.get("client_id")).toBe(
      new URL(before).searchParams.get("client_id"),
    );
    expect(registrations(s)).toBe(1);
    expect(s.requests.filter((q) => q.path === "/oauth/revoke").map((q) => q.status)).toEqual([
      200,
    ]);
  });

  it("finish: a code refused with invalid_client gets a new sign-in link, which works", async () => {
    const s = await server("4.2.5");
    const chat = await makeChat({ now });
    const stale = await toSignIn(chat);
    // Approved late on the app's first day; pasted after the code (and so the app) expired.
    clock += 24 * HOUR - 5 * 60_000;
    const { code } = s.authorize("ada", stale);
    clock += 11 * 60_000;
    const r = await chat.send(code);
    expect(r.secret).toBe(true);
    expect(r.text).toBe(
      `${new URL(s.url).host} had forgotten my sign-in app (some Mastodon versions delete unused ones after a day), so that code can't be used. I've set up a new one: tap “Sign in” again.`,
    );
    const link = signInLink(r.replies);
    expect(link).not.toBe(stale);
    expect((await chat.state())?.step).toBe("old-sign-in");
    expect(registrations(s)).toBe(2);
    const again = await chat.send(s.authorize("ada", link).code);
    expect(again.text).toBe(
      "Signed in as @ada@old.example. Saving everything the move will lock away…",
    );
    await chat.jobs.idle();
  });

  it("finish, for the new account: the same, with follow scopes", async () => {
    clock = Date.now();
    const old = await startMastodonSandbox({ domain: "old.example", rateLimit: null, now });
    const fresh = await startMastodonSandbox({
      domain: "new.example",
      version: "4.2.8",
      rateLimit: null,
      now,
    });
    sandbox = fresh;
    try {
      fresh.addAccount({ username: "ada" });
      const chat = await makeChat({ now });
      await chat.send("/start");
      await chat.send(old.url);
      await chat.press("Upload a file instead");
      const bytes = new TextEncoder().encode("friend@far.example\n");
      await chat.send({
        kind: "file",
        name: "following_accounts.csv",
        size: bytes.length,
        read: async () => bytes,
      });
      await chat.press("Another server");
      const stale = signInLink((await chat.send(fresh.url)).replies);
      clock += 24 * HOUR - 5 * 60_000;
      const { code } = fresh.authorize("ada", stale);
      clock += 11 * 60_000;
      const r = await chat.send(code);
      expect(r.text).toBe(
        `${new URL(fresh.url).host} had forgotten my sign-in app (some Mastodon versions delete unused ones after a day), so that code can't be used. I've set up a new one: tap “Sign in” again.`,
      );
      const link = signInLink(r.replies);
      expect(new URL(link).searchParams.get("scope")).toBe(
        "read:accounts read:follows read:search write:follows",
      );
      const connected = await chat.send(fresh.authorize("ada", link).code);
      expect(connected.lines[0]).toBe("Connected: your new account is @ada@new.example.");
    } finally {
      await old.close();
    }
  });
});

describe("sign in by the callback page (PUBLIC_URL)", () => {
  async function withWeb() {
    await server();
    const store = openMemoryStore();
    const sealer = new Sealer(randomBytes(32));
    let route: ((url: URL) => ReturnType<ReturnType<typeof oauthCallback>>) | undefined;
    const started = await startWeb({ callback: (u) => route!(u) }, { host: "127.0.0.1", port: 0 });
    web = started.server;
    const setup = { publicUrl: started.url, now };
    const ada = await makeChat(setup, { store, sealer, user: "tg:1" });
    const bob = await makeChat(setup, { store, sealer, user: "tg:2" });
    route = oauthCallback({ signIn: ada.core.signIn, engine: ada.engine });
    return { ada, bob, base: started.url };
  }

  const browse = async (url: string) => {
    const res = await fetch(url);
    const html = await res.text();
    return { status: res.status, title: /<h1>([^<]*)<\/h1>/.exec(html)?.[1] };
  };

  it("the user only taps: the callback signs them in and the chat carries on", async () => {
    const { ada, base } = await withWeb();
    const link = await toSignIn(ada);
    expect(new URL(link).searchParams.get("redirect_uri")).toBe(`${base}/oauth/callback`);
    const approved = sandbox!.authorize("ada", link);
    expect(approved.redirectTo.startsWith(`${base}/oauth/callback?code=`)).toBe(true);
    expect(await browse(approved.redirectTo)).toEqual({ status: 200, title: "You're signed in" });
    expect(said(ada.notified)[0]).toBe(
      "Signed in as @ada@old.example. Saving everything the move will lock away…",
    );
    await ada.jobs.idle();
    expect((await ada.state())?.step).toBe("new-choose");
    // The same callback again: the state was single-use.
    expect(await browse(approved.redirectTo)).toEqual({
      status: 400,
      title: "This sign-in link has expired",
    });
  });

  it("a state binds the callback to the user it was made for", async () => {
    const { ada, bob } = await withWeb();
    const adaLink = await toSignIn(ada);
    await toSignIn(bob);
    await browse(sandbox!.authorize("ada", adaLink).redirectTo);
    expect((await ada.state())?.step).toBe("exporting");
    expect((await bob.state())?.step).toBe("old-sign-in");
    await ada.jobs.idle();
  });

  it("a forged or stale state gets the expired page and changes nothing", async () => {
    const { ada, base } = await withWeb();
    const link = await toSignIn(ada);
    const before = await ada.state();
    expect(await browse(`${base}/oauth/callback?code=abc&state=${"x".repeat(32)}`)).toEqual({
      status: 400,
      title: "This sign-in link has expired",
    });
    const approved = sandbox!.authorize("ada", link);
    clock += 11 * 60_000;
    expect(await browse(approved.redirectTo)).toEqual({
      status: 400,
      title: "This sign-in link has expired",
    });
    expect(await ada.state()).toEqual(before);
  });

  it("a user who declines is told so in the chat", async () => {
    const { ada, base } = await withWeb();
    const link = await toSignIn(ada);
    const state = new URL(link).searchParams.get("state");
    expect(await browse(`${base}/oauth/callback?error=access_denied&state=${state}`)).toEqual({
      status: 200,
      title: "Sign-in cancelled",
    });
    expect(said(ada.notified)[0]).toMatch(/^You didn't approve the sign-in, so nothing changed/);
    expect((await ada.state())?.step).toBe("old-sign-in");
  });
});

describe("snapshot edge cases", () => {
  it("an account with 5,000 follows is saved whole, in Mastodon's order", async () => {
    const s = await server();
    s.seedFollows("ada", 5000);
    const chat = await makeChat({ now });
    await chat.send(s.authorize("ada", await toSignIn(chat)).code);
    await chat.jobs.idle();
    const csv = chat.notified.find((x) => x.kind === "file" && x.name === "following_accounts.csv");
    expect(csv?.kind === "file" && new TextDecoder().decode(csv.bytes)).toBe(
      mastodonExports(s.snapshotOf("ada"))["following_accounts.csv"],
    );
    expect((await chat.state())?.step === "new-choose" && (await chat.state())).toMatchObject({
      follows: 5000,
    });
  });

  it("blocked_accounts.csv lists the newest block first, as Mastodon's export does", async () => {
    const s = await server();
    s.block("ada", "first@a.example");
    s.block("ada", "second@b.example");
    s.block("ada", "third@c.example");
    const chat = await makeChat({ now });
    await chat.send(s.authorize("ada", await toSignIn(chat)).code);
    await chat.jobs.idle();
    const zipped = chat.notified.find((x) => x.kind === "file" && x.name.endsWith(".zip"));
    const files = unzip(zipped?.kind === "file" ? zipped.bytes : new Uint8Array());
    expect(files["blocked_accounts.csv"]).toBe(
      "third@c.example\nsecond@b.example\nfirst@a.example\n",
    );
  });

  it("a followers list the server hides is reported as hidden, not as zero", async () => {
    const s = await server();
    const ada = s.getAccount("ada")!;
    s.seedFollowers("ada", 40);
    // A server that withholds the list even from its owner answers [] while the profile counts 40.
    s.failNext(1, {
      status: 200,
      body: "[]",
      contentType: "application/json; charset=utf-8",
      path: `/api/v1/accounts/${ada.id}/followers`,
    });
    const chat = await makeChat({ now });
    await chat.send(s.authorize("ada", await toSignIn(chat)).code);
    await chat.jobs.idle();
    const lines = said(chat.notified.filter((x) => x.kind === "say"));
    expect(lines[0]).toMatch(/^Saved: 0 follows, 40 followers \(count only\),/);
    expect(lines[0]).toMatch(
      /doesn't show your followers list, so I kept the count \(40\) but not the names/,
    );
  });
});
