/**
 * micro.blog as it really is, as a user meets it: a Fediverse username of one's own
 * (on the blog's domain, or not what the username says), micro.blog's own users in a
 * follows list, and 403s that are not its rate limit (a refused follow, a dead token).
 */
import { describe, expect, it } from "vitest";
import type { Reply } from "../../src/chat/conversation.js";
import type { State } from "../../src/model/state.js";
import { makeChat, render } from "../helpers/chat.js";
import { uploadFollows } from "../helpers/follows-csv.js";
import { MB, moveWorlds } from "../helpers/worlds.js";

const openWorld = moveWorlds();

/**
 * A user who uploaded their follows and is about to connect micro.blog; `blogs` are blogs'
 * own domains that micro.blog serves (any other host refuses connections).
 */
async function uploaded(
  accts: string[],
  opts: { blogs?: string[]; microblogRule?: { windowMs: number; blockMs: number } } = {},
) {
  const world = await openWorld();
  for (const blog of opts.blogs ?? []) world.origins[blog] = world.mb.url;
  const chat = await makeChat(world.loopback, { microblogRule: opts.microblogRule });
  await uploadFollows(chat, accts);
  return { chat, world, mb: world.mb };
}

const texts = (replies: readonly Reply[]) => render(replies.filter((r) => r.kind !== "progress"));
const targetOf = (state: State | undefined) =>
  state && "target" in state ? { ...state.target, token: "sealed" } : undefined;

describe("a micro.blog account's own Fediverse username", () => {
  it("on the blog's own domain: read from micro.blog and kept, micro.blog still the new server", async () => {
    const { chat, mb } = await uploaded(["a@one.example"], { blogs: ["zoe.example"] });
    mb.addRemote("a@one.example", { exists: true });
    const token = mb.addUser("zoe", { site: "zoe.example", fediverse: "zoe@zoe.example" });
    const r = await chat.send(token);
    expect(r.lines[0]).toBe("Connected: your new account is @zoe@zoe.example.");
    expect(r.lines[1]).toBe("I'll follow your 1 account on @zoe@zoe.example.");
    expect(targetOf(await chat.state())).toEqual({
      kind: "microblog",
      domain: MB,
      username: "zoe",
      handle: "zoe@zoe.example",
      token: "sealed",
    });
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    expect(texts(chat.notified)[1]).toMatch(/^Want to try mb\.example for a few days/);
  });

  it("not what micro.blog's answer says: the user types it, and it is checked first", async () => {
    const { chat, mb } = await uploaded(["a@one.example"], { blogs: ["zoe.example"] });
    const token = mb.addUser("zoe", { site: "zoe.example", fediverse: "hello@zoe.example" });
    const asked = await chat.send(token);
    expect(asked.secret).toBe(true);
    expect(asked.text).toBe(
      "micro.blog took your token, but didn't tell me your Fediverse username. Type it as micro.blog shows it under Account → View Fediverse Details, like @you@example.com.",
    );
    expect((await chat.state())?.step).toBe("new-microblog-handle");

    const notHandle = await chat.send("hello");
    expect(notHandle.lines[0]).toBe(
      'That isn\'t a handle: "hello" has no server — write it as hello@example.social.',
    );
    expect((await chat.send("@nobody@zoe.example")).text).toBe(
      "zoe.example says there is no account @nobody@zoe.example — check the spelling.",
    );
    expect((await chat.send("@ada@old.example")).text).toBe(
      "@ada@old.example isn't on micro.blog. Type the Fediverse username micro.blog shows under Account → View Fediverse Details.",
    );
    expect((await chat.state())?.step).toBe("new-microblog-handle");

    const done = await chat.send("@Hello@zoe.example");
    expect(done.lines[0]).toBe("Connected: your new account is @hello@zoe.example.");
    expect(targetOf(await chat.state())).toMatchObject({
      domain: MB,
      username: "zoe",
      handle: "hello@zoe.example",
    });
    expect(mb.verifyCount(token)).toBe(1);
  });

  it("when the blog's domain doesn't answer: a button for each, and the one tapped is kept", async () => {
    const { chat, mb } = await uploaded(["a@one.example"]);
    const token = mb.addUser("zoe", { site: "zoe.example" });
    const asked = await chat.send(token);
    expect(asked.text).toMatch(
      /^micro\.blog took your token, but its answer about your Fediverse username wasn't clear\. Which is yours\?/,
    );
    expect(asked.replies[0]).toMatchObject({
      choices: [{ label: "@zoe@mb.example" }, { label: "@zoe@zoe.example" }],
    });
    const done = await chat.press("@zoe@mb.example");
    expect(done.lines[0]).toBe("Connected: your new account is @zoe@mb.example.");
  });
});

describe("the Move to a Fediverse username on the blog's own domain", () => {
  it("the alias, the pre-flight and the Move all name it", async () => {
    const world = await openWorld();
    // Ada moves from old.example to micro.blog's zoe, whose Fediverse username is hello@zoe.example.
    world.origins["zoe.example"] = world.mb.url;
    const token = world.mb.addUser("zoe", { site: "zoe.example", fediverse: "hello@zoe.example" });
    const placed = async (step: "alias" | "preflight" | "move") => {
      const chat = await makeChat(world.loopback, { pollMs: 30 });
      const target = {
        kind: "microblog" as const,
        domain: MB,
        username: "zoe",
        handle: "hello@zoe.example",
        token: chat.sealer.seal(token),
      };
      await chat.store.namespace("snapshots").set(chat.user, world.snapshot(30));
      await chat.placeAt(world.stateAt(step, chat.sealer, { target }));
      return chat;
    };

    const chat = await placed("alias");
    const early = await chat.send("done");
    expect(early.text).toBe(
      "Not yet: @hello@zoe.example doesn't list @ada@old.example as an alias yet: it has no aliases at all.",
    );
    world.mb.addAlias("zoe", world.old.actorUri("ada"));
    const ok = await chat.press("Check again");
    expect(ok.lines[0]).toBe(
      "✅ @hello@zoe.example lists @ada@old.example as an alias, so the move can go ahead.",
    );

    const pre = await placed("preflight");
    const checks = await pre.send("/status");
    expect(checks.lines[0]).toContain("✅ @hello@zoe.example accepts followers without approval.");
    expect(checks.lines[0]).toContain(
      "ℹ️ Whether each follower comes along depends on their own server",
    );
    expect(checks.lines[1]).toBe(
      "This can't be undone, and you can't move again for 30 days. 30 followers will be asked to follow @hello@zoe.example; your posts stay on old.example.",
    );

    const move = await placed("move");
    const ask = await move.send("/status");
    expect(ask.lines[1]).toBe(
      "Now open old.example's move page, enter @hello@zoe.example and your password, and submit. Then tell me.",
    );
    await world.old.performMove("ada", "hello@zoe.example");
    const moved = await move.press("I've moved");
    expect(moved.lines[0]).toBe("✅ @ada@old.example has moved to @hello@zoe.example.");
    expect((await move.state())?.step).toBe("watching");
  });
});

describe("micro.blog's own users in a follows list", () => {
  const accts = ["bob@mb.example", "carol@mb.example", "hi@dan.example", "x@one.example"];

  async function withNeighbours() {
    const set = await uploaded(accts, { blogs: ["dan.example"] });
    const { mb, world } = set;
    mb.addUser("bob");
    mb.addUser("carol");
    mb.addUser("dan", { site: "dan.example", fediverse: "hi@dan.example" });
    mb.addRemote("x@one.example", { exists: true });
    mb.follow("ada", "bob");
    return { ...set, token: world.appToken };
  }

  it("already followed by their micro.blog username; followed the way micro.blog takes them", async () => {
    const { chat, mb, token } = await withNeighbours();
    const r = await chat.send(token);
    expect(r.lines[1]).toBe(
      "I'll follow your 3 accounts on @ada@mb.example. 1 you already follow.",
    );
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    expect(texts(chat.notified)[0]).toBe("Done: 3 followed, 1 already followed.");
    // Follows go side by side (as many as micro.blog's limit and latency need): any order.
    expect(mb.followingOf("ada").sort()).toEqual(["bob", "carol", "dan", "x@one.example"]);
  });

  it("the web path's check sees them followed under their micro.blog usernames", async () => {
    const { chat, mb, token } = await withNeighbours();
    await chat.send(token);
    await chat.press("I'll import the CSV myself");
    for (const h of ["carol", "dan", "x@one.example"]) mb.follow("ada", h);
    const check = await chat.press("Done — check it");
    expect(check.lines[0]).toBe("All 4 accounts are followed on @ada@mb.example.");
  });
});

describe("403s from micro.blog that are not its limit", () => {
  // micro.blog's figures, scaled: a window of 300 ms, blocked as long.
  const scaled = { windowMs: 300, blockMs: 300 };

  it("a refused follow is reported for that account, and the import goes on", async () => {
    const { chat, mb, world } = await uploaded(["shy@one.example", "a@one.example"], {
      microblogRule: scaled,
    });
    mb.addRemote("shy@one.example", {
      exists: true,
      refuseFollow: { status: 403, body: '{"error":"You can\'t follow this user."}' },
    });
    mb.addRemote("a@one.example", { exists: true });
    await chat.send(world.appToken);
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    const said = texts(chat.notified);
    expect(said[0]).toBe("Done: 1 followed, 1 refused.");
    const file = chat.notified.find((x) => x.kind === "file" && x.name === "not-followed.csv");
    expect(file?.kind === "file" && new TextDecoder().decode(file.bytes)).toBe(
      "Account address,Result,Reason\nshy@one.example,refused,You can't follow this user.\n",
    );
    expect(mb.followingOf("ada")).toEqual(["a@one.example"]);
  });

  it("a token micro.blog no longer takes stops the import and asks for a new one", async () => {
    const { chat, mb, world } = await uploaded(["a@one.example", "b@one.example"], {
      microblogRule: scaled,
    });
    for (const h of ["a@one.example", "b@one.example"]) mb.addRemote(h, { exists: true });
    await chat.send(world.appToken);
    mb.revokeAppToken(world.appToken);
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    const said = texts(chat.notified);
    expect(said[0]).toBe(
      "I had to stop following: mb.example no longer accepts my app token for @ada@mb.example — it was deleted, or it expired. 2 accounts are left, and with a new token I'll carry on.",
    );
    expect(said[1]).toMatch(/^Moving to micro\.blog\? On micro\.blog, open Account → Edit Apps/);
    expect((await chat.state())?.step).toBe("new-microblog");

    const fresh = mb.issueAppToken("ada");
    const again = await chat.send(fresh);
    expect(again.lines).toEqual([
      "Connected: your new account is @ada@mb.example.",
      "I'll follow your 2 accounts on @ada@mb.example.",
    ]);
    chat.notified.length = 0;
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    expect(texts(chat.notified)[0]).toBe("Done: 2 followed.");
  });

  it("a token refused mid-import: what's done stays done", async () => {
    const { chat, mb, world } = await uploaded(["a@one.example", "b@one.example"], {
      microblogRule: scaled,
    });
    mb.addRemote("a@one.example", { exists: true });
    // The token dies between the two follows: the second is answered as a dead token is.
    mb.addRemote("b@one.example", {
      exists: true,
      refuseFollow: { status: 401, body: '{"error":"Not authorized."}' },
    });
    await chat.send(world.appToken);
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    expect(texts(chat.notified)[0]).toBe(
      "I had to stop following: mb.example no longer accepts my app token for @ada@mb.example — it was deleted, or it expired. What's done stays done; 1 account is left, and with a new token I'll carry on.",
    );
    expect(mb.followingOf("ada")).toEqual(["a@one.example"]);
  });

  it("the web path's check with a dead token asks for a new one too", async () => {
    const { chat, mb, world } = await uploaded(["a@one.example"]);
    mb.addRemote("a@one.example", { exists: true });
    await chat.send(world.appToken);
    await chat.press("I'll import the CSV myself");
    mb.revokeAppToken(world.appToken);
    const check = await chat.press("Done — check it");
    expect(check.lines[0]).toBe(
      "I couldn't check: mb.example no longer accepts my app token for @ada@mb.example — it was deleted, or it expired. With a new one I'll look again.",
    );
    expect((await chat.state())?.step).toBe("new-microblog");
  });
});
