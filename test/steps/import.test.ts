/**
 * Connecting micro.blog and importing follows, as a user sees it, against the
 * micro.blog stand-in: preview, the job, the report, the web path, the reminder.
 */
import { describe, expect, it } from "vitest";
import type { Reply } from "../../src/chat/conversation.js";
import { makeChat, render } from "../helpers/chat.js";
import { uploadFollows } from "../helpers/follows-csv.js";
import { moveWorlds, OLD } from "../helpers/worlds.js";

const openWorld = moveWorlds();

/** A user who uploaded their follows and is about to connect micro.blog. */
async function uploaded(accts: string[], opts: { down?: string[]; dayMs?: number } = {}) {
  const world = await openWorld();
  const chat = await makeChat({ ...world.loopback, down: opts.down }, { dayMs: opts.dayMs });
  await uploadFollows(chat, accts);
  return { chat, token: world.appToken, mb: world.mb };
}

const texts = (replies: readonly Reply[]) => render(replies.filter((r) => r.kind !== "progress"));

describe("connect micro.blog and import", () => {
  it("verifies the app token once, previews in numbers, follows everyone and reports", async () => {
    const accts = Array.from({ length: 12 }, (_, k) => `user${k}@one.example`);
    const { chat, token, mb } = await uploaded(
      [...accts, "gone@down.example", "ghost@two.example"],
      { down: ["down.example"] },
    );
    for (const a of accts) mb.addRemote(a, { exists: true });
    mb.addRemote("gone@down.example", { exists: true });
    mb.addRemote("ghost@two.example", { exists: false });
    mb.follow("ada", "user0@one.example");

    const r = await chat.send(token);
    expect(r.secret).toBe(true);
    expect(r.lines).toEqual([
      "Connected: your new account is @ada@mb.example.",
      "I'll follow your 13 accounts on @ada@mb.example. 1 you already follow. 1 is on servers that don't answer right now (down.example); I'll try them anyway.",
    ]);
    expect(mb.verifyCount(token)).toBe(1);

    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    const said = texts(chat.notified);
    expect(said[0]).toBe("Done: 12 followed, 1 already followed, 1 not found.");
    expect(said[1]).toBe("📎 not-followed.csv");
    const file = chat.notified.find((x) => x.kind === "file" && x.name === "not-followed.csv");
    expect(file?.kind === "file" && new TextDecoder().decode(file.bytes)).toBe(
      "Account address,Result,Reason\nghost@two.example,not found,the server couldn't find this account\n",
    );
    expect(said[2]).toMatch(/^Want to try mb\.example for a few days before moving\?/);
    expect(new Set(mb.followingOf("ada"))).toEqual(new Set([...accts, "gone@down.example"]));
    // Every account was followed once: no POST twice for the same handle.
    const posts = mb.requests.filter(
      (q) => q.method === "POST" && q.path.startsWith("/users/follow"),
    );
    expect(posts.length).toBe(new Set(posts.map((q) => q.path)).size);
    // micro.blog's verify is never called again after connecting.
    expect(mb.verifyCount(token)).toBe(1);
  });

  it("an invalid app token is explained, deleted and changes nothing", async () => {
    const { chat } = await uploaded(["a@one.example"]);
    const before = await chat.state();
    const r = await chat.send("not-a-real-token-123456");
    expect(r.secret).toBe(true);
    expect(r.text).toMatch(/^micro\.blog says that token isn't valid/);
    expect(await chat.state()).toEqual(before);
  });

  it("the web path: sends the file, checks what's missing, and follows only that", async () => {
    const accts = ["a@one.example", "b@one.example", "c@one.example"];
    const { chat, token, mb } = await uploaded(accts);
    for (const a of accts) mb.addRemote(a, { exists: true });
    await chat.send(token);
    const web = await chat.press("I'll import the CSV myself");
    expect(web.lines[0]).toMatch(
      /^Upload the file below at micro\.blog → Account → View Fediverse Details → Import Follows\./,
    );
    expect(web.lines[1]).toBe("📎 following_accounts.csv");
    mb.follow("ada", "a@one.example"); // the user's own import got one of three so far
    const check = await chat.press("Done — check it");
    expect(check.text).toMatch(/^2 accounts are still missing \(b@one\.example, c@one\.example\)/);
    await chat.press("Follow the missing ones");
    await chat.jobs.idle();
    expect(texts(chat.notified)[0]).toBe("Done: 2 followed, 1 already followed.");
    const posts = mb.requests.filter(
      (q) => q.method === "POST" && q.path.startsWith("/users/follow"),
    );
    expect(posts.map((q) => q.path).join()).not.toContain("a%40one.example");
  });

  it("try it for a while: the reminder arrives after the chosen days", async () => {
    const { chat, token, mb } = await uploaded(["a@one.example"], { dayMs: 50 });
    mb.addRemote("a@one.example", { exists: true });
    await chat.send(token);
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    const wait = await chat.press("Remind me in 3 days");
    expect(wait.text).toMatch(/^I'll remind you on \w{3}, \d\d \w{3}\. Take your time/);
    await chat.jobs.idle({ scheduled: true });
    expect(texts(chat.notified).at(-1)).toBe(
      "How is mb.example treating you? Ready to move your followers?",
    );
    expect((await chat.state())?.step).toBe("trying");
    // The follows came from a file, so the old handle is asked for before the alias.
    const move = await chat.press("Move now");
    expect(move.text).toMatch(
      /^What.s the handle of the account you.re moving from\? \(e\.g\. @you@old\.example\)$/,
    );
    const alias = await chat.send("@ada@old.example");
    expect(alias.text).toMatch(
      /^Two things on micro\.blog before the move:\n1\. Account → View Fediverse Details → Aliases → Add Alias, and enter:\n@ada@old\.example\n2\. Account → Edit Sources & Cross-posting/,
    );
  });

  it("follow them, then move: after the report, on to the move without asking again", async () => {
    const { chat, token, mb } = await uploaded(["a@one.example"]);
    mb.addRemote("a@one.example", { exists: true });
    const preview = await chat.send(token);
    expect(preview.replies[1]).toMatchObject({
      choices: [
        { label: "Follow them, then move" },
        { label: "Follow them, try it first" },
        { label: "I'll import the CSV myself" },
      ],
    });
    await chat.press("Follow them, then move");
    await chat.jobs.idle();
    const said = texts(chat.notified);
    expect(said[0]).toBe("Done: 1 followed.");
    // No "Move now?": the follows came from a file, so the old handle comes first.
    expect(said[1]).toMatch(/^What.s the handle of the account you.re moving from\?/);
    expect(said.join("\n")).not.toMatch(/Want to try/);
    expect((await chat.state())?.step).toBe("old-handle");
  });
});

describe("nothing left to follow", () => {
  it("offers the move at once, or a trial first", async () => {
    const { chat, token, mb } = await uploaded(["a@one.example"]);
    mb.addRemote("a@one.example", { exists: true });
    mb.follow("ada", "a@one.example");
    const preview = await chat.send(token);
    expect(preview.lines[1]).toBe(
      "@ada@mb.example already follows that account. Nothing to import.",
    );
    expect(preview.replies[1]).toMatchObject({
      choices: [{ label: "Move now" }, { label: "Try it first" }],
    });
    const move = await chat.press("Move now");
    expect(move.text).toMatch(/^What.s the handle of the account you.re moving from\?/);
    expect((await chat.state())?.step).toBe("old-handle");
  });
});

describe("follow them, then move, signed in", () => {
  it("asks for the alias and cross-posting while the follows go out; confirmed then, the report leads to the pre-flight", async () => {
    const world = await openWorld();
    const follows = world.old.seedFollows("ada", 30, { domains: ["one.example"] });
    for (const f of follows) world.mb.addRemote(f.targetAcct, { exists: true });
    const chat = await makeChat(world.loopback);
    await chat.send("/start");
    await chat.send(OLD);
    await chat.press("Paste a token instead");
    await chat.send(world.old.issueToken("ada", ["read"]));
    await chat.until((s) => s?.step === "new-microblog");
    await chat.send(world.appToken);
    // Slow enough that the person answers before the follows are done.
    world.mb.setLatency(100);
    const going = await chat.press("Follow them, then move");
    // The alias step's own words (move.test.ts), opened with "Meanwhile".
    expect(going.text).toMatch(
      /^Meanwhile, two things on micro\.blog before the move:\n1\. Account → View Fediverse Details → Aliases → Add Alias, and enter:\n@ada@old\.example\n2\. Account → Edit Sources & Cross-posting: /,
    );
    expect(going.replies[0]).toMatchObject({ choices: [{ label: "Both done" }] });
    const early = await chat.press("Both done");
    expect(early.text).toBe(
      "Not yet: @ada@mb.example doesn't list @ada@old.example as an alias yet: it has no aliases at all.",
    );
    world.mb.addAlias("ada", world.old.actorUri("ada"));
    const ok = await chat.press("Check again");
    expect(ok.lines).toEqual([
      "✅ @ada@mb.example lists @ada@old.example as an alias, so the move can go ahead.",
      "I'll show the last checks before the move as soon as the follows are done.",
    ]);
    expect(await chat.state()).toMatchObject({ step: "importing", aliasDone: true });
    world.mb.setLatency(0);
    await chat.until((s) => s?.step === "preflight", 30_000);
    const said = texts(chat.notified);
    const done = said.indexOf("Done: 30 followed.");
    expect(done).toBeGreaterThanOrEqual(0);
    // No alias asked again, no "Move now?": the report, then the checks and the one confirmation.
    expect(said[done + 1]).toMatch(/^Before the move — all clear:\n✅ @ada@mb\.example lists/);
    expect(said[done + 2]).toMatch(/^This can't be undone, and you can't move again for 30 days\./);
  });
});
