import { describe, expect, it } from "vitest";
import type { MastodonAccountClient } from "../../src/clients/mastodon.js";
import type { World } from "../../src/clients/world.js";
import { BadResponseError, RejectedError, UnreachableError } from "../../src/net/errors.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";

/** A world with a few servers whose behaviour each test knows by name. */
function knownServers(): World {
  return fakeWorld({
    async probeMastodon(origin) {
      const host = new URL(origin).host;
      if (host === "down.example") throw new UnreachableError(`${host} could not be reached`, host);
      if (host === "blog.example")
        throw new BadResponseError(`${host} doesn't answer like a Mastodon server`, host);
      return { domain: host, software: "mastodon", version: "4.3.0" };
    },
    mastodon(origin) {
      const host = new URL(origin).host;
      return {
        async verifyCredentials() {
          throw new RejectedError(`${host} refused`, host, 401, "The access token is invalid");
        },
      } as unknown as MastodonAccountClient;
    },
    signIn: {
      async begin(_user, instance) {
        return {
          state: "s".repeat(32),
          url: `${instance.origin}/oauth/authorize?x=1`,
          redirect: "oob",
        };
      },
      async finish(origin) {
        const host = new URL(origin).host;
        throw new RejectedError(`${host} refused`, host, 400, "invalid_grant");
      },
    },
  });
}

/** The welcome asks for the server at once. */
async function atServerStep() {
  const chat = await makeChat(knownServers());
  await chat.send("/start");
  return chat;
}

describe("engine: the first steps", () => {
  it("greets, explains on request, and asks for the server", async () => {
    const chat = await makeChat(knownServers());
    const hi = await chat.send("/start");
    expect(hi.text).toMatch(/^Hi! I'll move your Mastodon account/);
    expect(hi.text).toMatch(
      /waiting\. Which Mastodon server is your account on\? \(e\.g\. mastodon\.social\)$/,
    );
    expect(hi.replies[0]).toMatchObject({ choices: [{ label: "What changes exactly?" }] });
    const more = await chat.press("What changes exactly?");
    expect(more.text).toMatch(/can't move again for 30 days/);
    expect(more.text).toMatch(/Ready\? Which Mastodon server is your account on\?/);
    expect((await chat.state())?.step).toBe("welcome");
    // A "let's go" from habit is answered with the same question.
    const next = await chat.send("let's go");
    expect(next.text).toBe("Which Mastodon server is your account on? (e.g. mastodon.social)");
    expect((await chat.state())?.step).toBe("old-server");
  });

  it("offers to sign in for a Mastodon server, with a token and a file as alternatives", async () => {
    const chat = await atServerStep();
    const r = await chat.send("@ada@hachyderm.io");
    expect(r.text).toBe(
      "Tap to let me read your account — read-only, and you can revoke it any time, then paste the code hachyderm.io shows you here.",
    );
    expect(r.replies[0]).toMatchObject({
      links: [
        { label: "Sign in to hachyderm.io", url: "https://hachyderm.io/oauth/authorize?x=1" },
      ],
      choices: [{ label: "Paste a token instead" }, { label: "Upload a file instead" }],
    });
    expect((await chat.state())?.step).toBe("old-sign-in");
  });

  it("moves to the token step on request, with the exact place to go", async () => {
    const chat = await atServerStep();
    await chat.send("@ada@hachyderm.io");
    const r = await chat.press("Paste a token instead");
    expect(r.text).toMatch(/^To read your account, I need an access token from hachyderm.io/);
    expect(r.replies[0]).toMatchObject({
      links: [{ url: "https://hachyderm.io/settings/applications/new" }],
    });
    expect(await chat.state()).toMatchObject({
      step: "old-token",
      instance: { origin: "https://hachyderm.io" },
    });
  });
});

describe("engine: bad input gets one clear line and changes nothing", () => {
  const cases: [string, Parameters<Awaited<ReturnType<typeof makeChat>>["send"]>[0], RegExp][] = [
    [
      "a server that does not answer",
      "down.example",
      /^I couldn't reach down.example\. Check the spelling/,
    ],
    [
      "a server that is not Mastodon",
      "blog.example",
      /^blog.example doesn't answer like a Mastodon server/,
    ],
    ["an http:// address", "http://hachyderm.io", /I only connect over https:\/\//],
    ["a private address", "10.0.0.7", /private network address/],
    [
      "a photo where text was expected",
      { kind: "other", what: "a photo" },
      /^I can't use a photo here\. Nothing changed\./,
    ],
    [
      "10,000 characters of junk",
      "x".repeat(10_000),
      /^That's 10,000 characters — far more than I need here\. Nothing changed\./,
    ],
    [
      "a file where a name was expected",
      { kind: "file", name: "a.csv", size: 3, read: async () => new Uint8Array(3) },
      /I need the name of your server as text/,
    ],
    [
      "an unknown command",
      { kind: "other", what: "/frobnicate" },
      /^I can't use \/frobnicate here/,
    ],
  ];
  it.each(cases)("%s", async (_name, input, expected) => {
    const chat = await atServerStep();
    const before = await chat.state();
    const seq = chat.seq;
    const r = await chat.send(input);
    expect(r.lines[0]).toMatch(expected);
    expect(await chat.state()).toEqual(before);
    expect(chat.seq).toBe(seq);
  });

  it("a wrong token: explained, deleted, and the step stays", async () => {
    const chat = await atServerStep();
    await chat.send("hachyderm.io");
    await chat.press("Paste a token instead");
    const before = await chat.state();
    const r = await chat.send("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect(r.secret).toBe(true);
    expect(r.text).toMatch(/^hachyderm.io says that token isn't valid\./);
    expect(r.text).not.toContain("AAAAAAAAAAAAAAAA");
    expect(await chat.state()).toEqual(before);
  });

  it("something that is not a token at all is still treated as secret", async () => {
    const chat = await atServerStep();
    await chat.send("hachyderm.io");
    await chat.press("Paste a token instead");
    const r = await chat.send("my password is hunter2");
    expect(r.secret).toBe(true);
    expect(r.text).toMatch(/doesn't look like an access token/);
    expect(r.text).not.toContain("hunter2");
  });

  it("the same button pressed twice: the second press says so and changes nothing", async () => {
    const chat = await makeChat(knownServers());
    await chat.send("/start");
    const staleSeq = chat.seq;
    await chat.send("hachyderm.io");
    const before = await chat.state();
    const again = await chat.send({ kind: "choice", id: "changes", seq: staleSeq });
    expect(again.lines[0]).toBe("That button belongs to an earlier message. Here's where we are:");
    expect(again.lines[1]).toMatch(/^Tap to let me read your account/);
    expect(await chat.state()).toEqual(before);
  });
});

describe("engine: signing in by code", () => {
  it("a code Mastodon refuses (used twice, too late) is explained and the step stays", async () => {
    const chat = await atServerStep();
    await chat.send("hachyderm.io");
    const before = await chat.state();
    const r = await chat.send("QWERTYUIOPASDFGHJKLZXCVBNM123456");
    expect(r.secret).toBe(true);
    expect(r.text).toMatch(
      /^hachyderm.io didn't accept that code: it was already used, has expired/,
    );
    expect(await chat.state()).toEqual(before);
  });

  it("something that is not a code is deleted and explained", async () => {
    const chat = await atServerStep();
    await chat.send("hachyderm.io");
    const r = await chat.send("my password is hunter2");
    expect(r.secret).toBe(true);
    expect(r.lines[0]).toMatch(/^That doesn't look like the code hachyderm.io shows/);
  });
});

describe("engine: commands in the middle of a step", () => {
  it("/status and /help answer without moving", async () => {
    const chat = await atServerStep();
    const before = await chat.state();
    expect((await chat.send("/status")).text).toMatch(/Which Mastodon server/);
    expect((await chat.send("/help")).text).toMatch(
      /\/forget — delete everything I know about you/,
    );
    expect(await chat.state()).toEqual(before);
  });

  it("/start resumes where the user was", async () => {
    const chat = await atServerStep();
    await chat.send("hachyderm.io");
    const r = await chat.send("/start");
    expect(r.lines[0]).toBe("Welcome back! We were here:");
    expect(r.lines[1]).toMatch(/^Tap to let me read your account/);
  });

  it("/back goes one step back, and not before the first", async () => {
    const chat = await atServerStep();
    await chat.send("hachyderm.io");
    await chat.press("Paste a token instead");
    expect((await chat.send("/back")).text).toMatch(/^Tap to let me read your account/);
    expect((await chat.send("/back")).text).toMatch(/^Hi! I'll move/);
    expect((await chat.state())?.step).toBe("welcome");
    expect((await chat.send("/back")).text).toBe("There's no step before this one.");
  });

  it("/cancel starts over; /forget deletes the saved state", async () => {
    const chat = await atServerStep();
    await chat.send("hachyderm.io");
    expect((await chat.send("/cancel")).text).toMatch(/^Stopped\. Nothing is running/);
    expect((await chat.state())?.step).toBe("welcome");
    await chat.send("/start");
    await chat.send("hachyderm.io");
    expect((await chat.send("/forget")).text).toMatch(/^Done: I've deleted everything/);
    expect(await chat.state()).toBeUndefined();
    expect(await chat.store.namespace("users").get(chat.user)).toBeUndefined();
  });
});

describe("engine: input from outside the chat", () => {
  it("a job's report for a state that no longer waits for it is stale and changes nothing", async () => {
    const chat = await makeChat(knownServers());
    await chat.send("/start");
    const before = await chat.state();
    const ack = await chat.engine.report(chat.user, {
      kind: "job",
      job: "reminder",
      id: "a-job-nobody-waits-for",
      event: "due",
    });
    expect(ack).toBe("stale");
    expect(chat.notified).toEqual([]);
    expect(await chat.state()).toEqual(before);
  });

  it("a return from a sign-in page nobody waits for is stale, and the chat hears nothing", async () => {
    const chat = await atServerStep();
    await chat.send("old.example");
    const before = await chat.state();
    const turn = await chat.engine.receive(chat.user, {
      kind: "signed-in",
      state: "t".repeat(32),
      code: "abcdefgh",
    });
    expect(turn.ack).toBe("stale");
    expect(chat.notified).toEqual([]);
    expect(await chat.state()).toEqual(before);
  });

  it("a saved state that no longer fits is set aside, and the user starts afresh", async () => {
    const chat = await makeChat(knownServers());
    await chat.store
      .namespace("users")
      .set(chat.user, { v: 3, seq: 4, state: { step: "nowhere" } });
    const hi = await chat.send("/start");
    expect(hi.text).toMatch(/^Hi! I'll move your Mastodon account/);
    const aside = await chat.store.namespace("unreadable").get(`users:${chat.user}`);
    expect(aside).toMatchObject([{ value: { v: 3, seq: 4, state: { step: "nowhere" } } }]);
  });
});
