/**
 * Alias, cross-posting, pre-flight and the Move, against two stand-ins that see
 * each other: the old Mastodon server (old.example) and micro.blog (mb.example).
 * Each test asserts the exact message the user reads.
 */
import { describe, expect, it } from "vitest";
import type { MastodonSandbox } from "../../sandbox/mastodon.js";
import type { MicroblogSandbox } from "../../sandbox/microblog.js";
import type { State } from "../../src/model/state.js";
import { makeChat, render } from "../helpers/chat.js";
import { type MoveWorld, mastodonTarget, moveWorlds, startNewMastodon } from "../helpers/worlds.js";

const openWorld = moveWorlds();
let current: MoveWorld | undefined;
let old: MastodonSandbox | undefined;
let mb: MicroblogSandbox | undefined;

async function world(opts: { oldVersion?: string } = {}) {
  current = await openWorld({ oldVersion: opts.oldVersion });
  ({ old, mb } = current);
  const chat = await makeChat(current.loopback, { pollMs: 30 });
  return { chat, token: current.appToken, old, mb };
}

/** A user who has imported and chose to move, placed at `step` with fresh data. */
function at(
  step: "alias" | "preflight" | "move",
  _token: string,
  sealer: { seal(s: string): string },
  extra: object = {},
): State {
  return current!.stateAt(step, sealer, extra);
}

describe("the alias and cross-posting", () => {
  it("gives the exact places and text for both, takes one answer, and checks the alias: missing, then there", async () => {
    const { chat, token } = await world();
    await chat.placeAt(at("alias", token, chat.sealer));
    const ask = await chat.send("/status");
    expect(ask.text).toBe(
      [
        "Two things on micro.blog before the move:",
        "1. Account → View Fediverse Details → Aliases → Add Alias, and enter:",
        "@ada@old.example",
        "2. Account → Edit Sources & Cross-posting: remove your Mastodon account, if it's there. After the move your old account is locked; cross-posting to it would fail, or post everything twice.",
        "Then tell me, and I'll check the alias.",
      ].join("\n"),
    );
    const early = await chat.press("Both done");
    expect(early.text).toBe(
      "Not yet: @ada@mb.example doesn't list @ada@old.example as an alias yet: it has no aliases at all.",
    );
    expect((await chat.state())?.step).toBe("alias");
    mb!.addAlias("ada", old!.actorUri("ada"));
    const ok = await chat.press("Check again");
    expect(ok.lines[0]).toBe(
      "✅ @ada@mb.example lists @ada@old.example as an alias, so the move can go ahead.",
    );
    // Cross-posting was confirmed in the same answer: straight to the pre-flight checks.
    expect(ok.lines[1]).toMatch(/^Before the move — all clear:/);
    expect(ok.lines[2]).toMatch(/^This can't be undone/);
    expect((await chat.state())?.step).toBe("preflight");
  });

  it("someone saved at the old cross-posting step (v3) is asked both again, and goes on to the pre-flight", async () => {
    const { chat, token } = await world();
    mb!.addAlias("ada", old!.actorUri("ada"));
    const { step: _, ...moving } = at("alias", token, chat.sealer) as State & { step: string };
    await chat.store.namespace("users").set(chat.user, {
      v: 3,
      seq: 5,
      state: { ...moving, step: "crosspost" },
      history: [],
      updatedAt: Date.now(),
    } as never);
    const resumed = await chat.send("/start");
    expect(resumed.lines[0]).toBe("Welcome back! We were here:");
    expect(resumed.lines[1]).toMatch(/^Two things on micro\.blog before the move:/);
    const r = await chat.press("Both done");
    expect(r.lines[0]).toBe(
      "✅ @ada@mb.example lists @ada@old.example as an alias, so the move can go ahead.",
    );
    expect(r.lines[1]).toMatch(/^Before the move — all clear:/);
    expect((await chat.state())?.step).toBe("preflight");
  });

  it("an alias pointing elsewhere is named, to catch the typo", async () => {
    const { chat, token } = await world();
    old!.addAccount({ username: "adda" });
    mb!.addAlias("ada", old!.actorUri("adda"));
    await chat.placeAt(at("alias", token, chat.sealer));
    const r = await chat.send("done");
    expect(r.text).toBe(
      "Not yet: @ada@mb.example doesn't list @ada@old.example as an alias: it lists @adda@old.example instead — check the spelling, or add @ada@old.example as well.",
    );
  });

  it("an alias with a trailing slash is not the old account, to Mastodon or to the bot", async () => {
    const { chat, token } = await world();
    const exact = old!.actorUri("ada");
    mb!.addAlias("ada", `${exact}/`);
    await chat.placeAt(at("alias", token, chat.sealer));
    const r = await chat.send("done");
    expect(r.text).toBe(
      `Not yet: @ada@mb.example lists ${exact}/ as an alias, but Mastodon needs exactly ${exact}: it compares the addresses letter for letter, so a capital letter or a trailing slash makes another one. Remove that alias and add @ada@old.example again.`,
    );
    expect((await chat.state())?.step).toBe("alias");
    // What the bot says is what the old server's move form answers.
    await expect(old!.performMove("ada", "ada@mb.example")).rejects.toThrow(
      "Acct is not an alias of this account",
    );
  });

  it("a server that is down during the check is named", async () => {
    const { chat, token } = await world();
    await chat.placeAt(at("alias", token, chat.sealer));
    await mb!.close();
    mb = undefined;
    const r = await chat.send("done");
    expect(r.text).toMatch(
      /^Not yet: I couldn't check @ada@mb\.example: mb\.example could not be reached/,
    );
  });
});

describe("pre-flight", () => {
  it("all clear: each check, then the confirmation with the real numbers", async () => {
    const { chat, token } = await world();
    mb!.addAlias("ada", old!.actorUri("ada"));
    await chat.store.namespace("snapshots").set(chat.user, current!.snapshot(30));
    await chat.placeAt(at("preflight", token, chat.sealer));
    const r = await chat.send("/status");
    expect(r.lines[0]).toBe(
      [
        "Before the move — all clear:",
        "✅ @ada@mb.example lists @ada@old.example as an alias, so the move can go ahead.",
        '⚠️ Your old server may remember @ada@mb.example as it was for up to a day. If its move form says "not an alias of this account", wait an hour and submit it again.',
        "✅ @ada@mb.example accepts followers without approval.",
        "✅ The accounts are on different servers.",
        "✅ @ada@old.example hasn't moved before.",
        "✅ Your saved follows and followers are from today.",
        "ℹ️ Whether each follower comes along depends on their own server's software, not on the new one; after the move I'll tell you, server by server, who stayed and why.",
      ].join("\n"),
    );
    expect(r.lines[1]).toBe(
      "This can't be undone, and you can't move again for 30 days. 30 followers will be asked to follow @ada@mb.example; your posts stay on old.example.",
    );
  });

  it("a check whose server fails for a moment asks again by itself: all clear, no Check again", async () => {
    const { chat, token } = await world();
    mb!.addAlias("ada", old!.actorUri("ada"));
    await chat.store.namespace("snapshots").set(chat.user, current!.snapshot(30));
    await chat.placeAt(at("preflight", token, chat.sealer));
    // Every request for the old actor fails for a while: more than one request's retries.
    old!.failNext(8, { status: 503, path: "/users/ada" });
    const r = await chat.send("/status");
    expect(r.lines[0]).toMatch(/^Before the move — all clear:/);
    expect(r.lines[1]).toMatch(/^This can't be undone/);
  });

  it("no alias, an account that already moved: fix these first, and no move button", async () => {
    const { chat, token } = await world();
    old!.addAccount({ username: "else" });
    mb!.addUser("else");
    mb!.addAlias("else", old!.actorUri("ada"));
    await old!.performMove("ada", "else@mb.example");
    await chat.placeAt(at("preflight", token, chat.sealer));
    const r = await chat.send("/status");
    expect(r.text).toMatch(
      /^Before the move, this needs fixing:\n❌ @ada@mb\.example doesn't list @ada@old\.example as an alias yet/,
    );
    expect(r.text).toContain(
      "❌ @ada@old.example has moved, but to @else@mb.example, not to @ada@mb.example.",
    );
    expect(r.replies[0]).toMatchObject({ choices: [{ label: "Check again" }] });
  });

  it("confirming records the old account's public follower count for the watch, when only a file told the follows", async () => {
    const { chat, token } = await world();
    mb!.addAlias("ada", old!.actorUri("ada"));
    await chat.store.namespace("snapshots").set(chat.user, current!.snapshot(0));
    await chat.placeAt(at("preflight", token, chat.sealer));
    await chat.send("/status");
    const r = await chat.press("I understand — move");
    expect(r.lines[1]).toMatch(/^Now open old\.example's move page/);
    expect(await chat.store.namespace("snapshots").get(chat.user)).toMatchObject({
      followers: { count: 30 },
    });
  });

  it("a new account on a Mastodon server that approves followers by hand is stopped", async () => {
    const { chat, token } = await world();
    const fresh = await startNewMastodon(current!);
    try {
      fresh.setLocked("ada", true);
      await chat.placeAt({
        ...at("preflight", token, chat.sealer),
        target: mastodonTarget(fresh, "ada", chat.sealer),
      } as State);
      const r = await chat.send("/status");
      expect(r.text).toMatch(/^Before the move, this needs fixing:/);
      expect(r.text).toContain(
        "❌ @ada@new.example approves followers by hand: your moved followers would pile up as follow requests. Switch that off until the move is over.",
      );
      // Its software is not a check: NodeInfo can't say whether followers will move.
      expect(r.text).not.toMatch(/handles moves|mastodon\)/);
    } finally {
      await fresh.close();
    }
  });

  it("a move within one server is allowed: a warning, not a block, and Mastodon agrees", async () => {
    const { chat, token } = await world();
    old!.addAccount({ username: "ada2" });
    await old!.addAlias("ada2", old!.actorUri("ada"));
    await chat.store.namespace("snapshots").set(chat.user, current!.snapshot(30));
    await chat.placeAt({
      ...at("preflight", token, chat.sealer),
      target: mastodonTarget(old!, "ada2", chat.sealer),
    } as State);
    const r = await chat.send("/status");
    expect(r.lines[0]).toMatch(/^Before the move — all clear:\n/);
    expect(r.lines[0]).toContain(
      "⚠️ Both accounts are on old.example. Mastodon allows a move within one server; check that @ada2@old.example is the account you mean.",
    );
    expect(r.replies[1]).toMatchObject({
      choices: [{ label: "I understand — move" }, { label: "Not yet" }],
    });
    const moved = await old!.performMove("ada", "ada2@old.example");
    expect(moved.moved?.acct).toBe("ada2");
  });
});

describe("the Move", () => {
  it("once confirmed, the bot sees the Move by itself: nobody has to say they've moved", async () => {
    const { chat, token } = await world();
    mb!.addAlias("ada", old!.actorUri("ada"));
    await chat.store.namespace("snapshots").set(chat.user, current!.snapshot(30));
    await chat.placeAt(at("preflight", token, chat.sealer));
    await chat.send("/status");
    const r = await chat.press("I understand — move");
    expect(r.lines[1]).toBe(
      "Now open old.example's move page, enter @ada@mb.example and your password, and submit. I'll see the move here by myself within a minute.",
    );
    expect(r.replies[1]).toMatchObject({ choices: [{ label: "I've moved" }] });
    await old!.performMove("ada", "ada@mb.example");
    await chat.until((state) => state?.step === "watching");
    expect(render(chat.notified)[0]).toBe("✅ @ada@old.example has moved to @ada@mb.example.");
  });

  it("opens the move page; an early 'I've moved' is noticed later by the poll", async () => {
    const { chat, token } = await world();
    mb!.addAlias("ada", old!.actorUri("ada"));
    await chat.placeAt(at("move", token, chat.sealer));
    const ask = await chat.send("/status");
    expect(ask.lines[1]).toBe(
      "Now open old.example's move page, enter @ada@mb.example and your password, and submit. Then tell me.",
    );
    expect(ask.replies[1]).toMatchObject({ links: [{ url: `${old!.url}/settings/migration` }] });
    const early = await chat.press("I've moved");
    expect(early.text).toMatch(
      /^Not yet: @ada@old\.example hasn't moved yet: its profile doesn't point to a new account\. The old server can take a minute; I'll keep checking/,
    );
    await old!.performMove("ada", "ada@mb.example");
    await chat.until((state) => state?.step === "watching");
    const said = render(chat.notified);
    expect(said[0]).toBe("✅ @ada@old.example has moved to @ada@mb.example.");
    expect(said[1]).toMatch(/^Your followers are on their way/);
    expect((await chat.state())?.step).toBe("watching");
  });

  it("a Move that points at the wrong account stops the journey and says so", async () => {
    const { chat, token } = await world();
    mb!.addUser("other");
    mb!.addAlias("other", old!.actorUri("ada"));
    await chat.placeAt(at("move", token, chat.sealer));
    await chat.send("/status");
    await old!.performMove("ada", "other@mb.example");
    const r = await chat.press("I've moved");
    expect(r.lines[0]).toBe(
      "@ada@old.example has moved, but to @other@mb.example, not to @ada@mb.example.",
    );
    expect(r.lines[1]).toMatch(
      /^I've stopped here: @ada@old\.example now points to @other@mb\.example/,
    );
    expect((await chat.state())?.step).toBe("moved-elsewhere");
  });
});
