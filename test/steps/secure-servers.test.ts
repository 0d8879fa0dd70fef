/**
 * An old server in secure mode (actors only to signed requests) and with a closed API (no
 * anonymous REST reads): the Move is confirmed from whatever can be read, the pre-flight and
 * the Move say exactly what couldn't be checked and let the user go on, and the watch counts
 * from the followers collection — signed, where the bot has a public address to sign from —
 * and never claims a percentage of a total it never read. A new server in secure mode: the
 * alias can't be read without a signature, said so, and never a dead end.
 */
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { MastodonSandbox } from "../../sandbox/mastodon.js";
import { startWeb } from "../../src/channels/web/server.js";
import type { WatchOptions } from "../../src/jobs/watch-job.js";
import type { State } from "../../src/model/state.js";
import { FAST_WATCH, makeChat, render } from "../helpers/chat.js";
import { closedAfterEach } from "../helpers/closing.js";
import {
  type MoveWorldOptions,
  mastodonTarget,
  moveWorlds,
  startNewMastodon,
} from "../helpers/worlds.js";

const openWorld = moveWorlds();
const closing = closedAfterEach<MastodonSandbox>();
const webs: Server[] = [];
afterEach(async () => {
  for (const w of webs.splice(0)) {
    w.closeAllConnections();
    await new Promise((r) => w.close(r));
  }
});

/**
 * Ada at the Move, her old server in the given modes; with `publicUrl`, the bot's web side
 * serves its instance actor there, as with PUBLIC_URL.
 */
async function atMove(
  oldModes: MoveWorldOptions["oldModes"],
  opts: { publicUrl?: boolean; watch?: Partial<WatchOptions>; followers?: number } = {},
) {
  const world = await openWorld({ oldModes, alias: true });
  let publicUrl: string | undefined;
  let actor:
    | (() => NonNullable<Awaited<ReturnType<typeof makeChat>>["core"]["instanceActor"]>)
    | undefined;
  if (opts.publicUrl) {
    const web = await startWeb(
      {
        callback: async () => ({ status: 404, title: "", body: "" }),
        actor: {
          document: () => actor!().document(),
          webfinger: (resource) => actor!().webfinger(resource),
        },
      },
      { host: "127.0.0.1", port: 0 },
    );
    webs.push(web.server);
    publicUrl = web.url;
    // The old server fetches the bot's key from its public address.
    world.origins[new URL(web.url).host] = web.url;
  }
  const chat = await makeChat(
    { ...world.loopback, ...(publicUrl ? { publicUrl } : {}) },
    { watch: { ...FAST_WATCH, ...opts.watch }, pollMs: 30 },
  );
  actor = () => chat.core.instanceActor!;
  await chat.store.namespace("snapshots").set(chat.user, world.snapshot(opts.followers ?? 30));
  await chat.placeAt(world.stateAt("move", chat.sealer));
  await chat.send("/status");
  return { chat, old: world.old, world };
}

type Chat = Awaited<ReturnType<typeof makeChat>>;

const says = (chat: Chat) => render(chat.notified.filter((r) => r.kind !== "progress"));

/** The watch ends, having counted all 30 followers moved. */
async function allCounted(chat: Chat) {
  await chat.until((s) => s?.step === "finished");
  expect(says(chat).filter((s) => s.startsWith("Your move is finished"))).toEqual([
    "Your move is finished: 30 of 30 followers moved (100%).",
  ]);
}

/** Ada moves and says so: the bot sees the Move, and the watch counts all 30 followers. */
async function movedAndCounted(chat: Chat, old: MastodonSandbox) {
  await old.performMove("ada", "ada@mb.example", { transfer: { perTick: 10, tickMs: 60 } });
  const moved = await chat.press("I've moved");
  expect(moved.lines[0]).toBe("✅ @ada@old.example has moved to @ada@mb.example.");
  await allCounted(chat);
}

/**
 * /status once the watch has saved what its first poll found (the report of it comes just
 * before the save): before, it says the first count is coming.
 */
async function statusOnceSaved(chat: Awaited<ReturnType<typeof makeChat>>): Promise<string> {
  for (let tries = 0; ; tries++) {
    const { text } = await chat.send("/status");
    if (!text.startsWith("I'm watching your followers move") || tries > 200) return text;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("an old server in secure mode", () => {
  it("the Move is confirmed from the public profile when the actor wants a signature", async () => {
    const { chat, old } = await atMove({ authorizedFetch: true });
    const early = await chat.send("I've moved");
    expect(early.text).toMatch(/^Not yet: @ada@old\.example hasn't moved yet/);
    // The bot keeps looking after "Not yet": the Move is seen from the profile's `moved`.
    await old.performMove("ada", "ada@mb.example", { transfer: { perTick: 10, tickMs: 60 } });
    await allCounted(chat);
    expect(says(chat)).toContain("✅ @ada@old.example has moved to @ada@mb.example.");
  });

  it("with a closed API too: pre-flight warns what it couldn't check and lets the move go ahead", async () => {
    const { chat, world } = await atMove({ authorizedFetch: true, closedApi: "unauthenticated" });
    await chat.placeAt(world.stateAt("preflight", chat.sealer));
    const r = await chat.send("/status");
    expect(r.lines[0]).toMatch(/^Before the move — all clear:\n/);
    expect(r.lines[0]).toContain(
      "⚠️ I couldn't check whether @ada@old.example has moved before: old.example shows your profile only to requests signed by a server, and its API only to signed-in apps, so I can't see the move from here. If it has moved in the last 30 days, the move page will say so.",
    );
    expect(r.lines[1]).toMatch(/^This can't be undone/);
  });

  it("with a closed API too: the Move is taken on the user's word, and the watch says at once it can't count", async () => {
    const { chat, old } = await atMove({ authorizedFetch: true, closedApi: "unauthenticated" });
    await old.performMove("ada", "ada@mb.example", { transfer: { perTick: 10, tickMs: 60 } });
    const unseen = await chat.press("I've moved");
    expect(unseen.text).toBe(
      "old.example shows your profile only to requests signed by a server, and its API only to signed-in apps, so I can't see the move from here. If the move page said your account is now redirected to @ada@mb.example, tell me and I'll start watching your followers move.",
    );
    expect((await chat.state())?.step).toBe("move");
    const going = await chat.press("The page said it's moved");
    expect(going.lines[0]).toBe("Going by what the move page told you: your account has moved.");
    await chat.until(() =>
      says(chat).some((s) => s.startsWith("I can't count your followers on old.example")),
    );
    const told = says(chat).find((s) => s.startsWith("I can't count"));
    expect(told).toBe(
      "I can't count your followers on old.example: its API answers only signed-in apps, and it shows your profile only to requests signed by a server, which I can only make when I run with a public address (PUBLIC_URL). micro.blog's API doesn't show how many follow you there, so I can't count from your new account either. Your followers are moving all the same; only my count is missing. I'll keep trying in case that changes and tell you when the watch ends. Or I can finish now without a count: then the follower count on your new account is the one to watch.",
    );
    // micro.blog offers no follower count: nothing to count from the new side.
    expect(chat.notified.at(-1)).toMatchObject({
      choices: [{ label: "Keep trying" }, { label: "Finish without a count" }],
    });
    expect(await statusOnceSaved(chat)).toBe(
      "I can't count your followers on old.example, but they are moving all the same. I'll keep trying, and tell you when the watch ends.",
    );
    const watchJobId = ((await chat.state()) as { watchJobId: string }).watchJobId;
    const end = await chat.press("Finish without a count");
    const finished = end.lines.find((s) => s.startsWith("Your move is finished"));
    expect(finished).toBe(
      "Your move is finished as far as I can tell, but your old server never let me count its followers, so I can't say how many of your 30 followers moved.\nThe followers' own servers move them all the same; the follower count on your new account shows how many arrived.",
    );
    expect(await chat.state()).toMatchObject({
      step: "finished",
      result: { counted: false, ended: "asked" },
    });
    // The watch stops at its next poll: nobody waits for it any more.
    for (let tries = 0; (await chat.jobs.scheduledAt(watchJobId)) !== undefined; tries++) {
      if (tries > 500) throw new Error("the watch is still polling");
      await new Promise((r) => setTimeout(r, 10));
    }
    await chat.jobs.idle();
    expect(await chat.jobs.scheduledAt(watchJobId)).toBeUndefined();
  });

  it("never counted and no followers known: the end claims no percentage (not '0 of 0 (100%)')", async () => {
    const { chat } = await atMove(
      { authorizedFetch: true, closedApi: "unauthenticated" },
      { followers: 0, watch: { capMs: 300 } },
    );
    await chat.press("I've moved");
    await chat.press("The page said it's moved");
    await chat.until((s) => s?.step === "finished");
    const finished = says(chat).find((s) => s.startsWith("Your move is finished"));
    expect(finished).toBe(
      "Your move is finished as far as I can tell, but your old server never let me count its followers, so I can't say how many of your followers moved.\nIt's been two weeks, so I've stopped watching.\nThe followers' own servers move them all the same; the follower count on your new account shows how many arrived.",
    );
    expect(finished).not.toMatch(/%|0 of 0/);
    const status = await chat.send("/status");
    expect(status.text).toMatch(/^Your move is finished; your old server never let me count/);
  });

  it("with a closed API too: confirmed, the move step asks to be told instead of promising to see the Move", async () => {
    const { chat, world } = await atMove({ authorizedFetch: true, closedApi: "unauthenticated" });
    await chat.placeAt(world.stateAt("preflight", chat.sealer));
    await chat.send("/status");
    const go = await chat.press("I understand — move");
    expect(go.text).toContain(
      "Now open old.example's move page, enter @ada@mb.example and your password, and submit. Then tell me.",
    );
    expect(go.text).not.toContain("by myself");
    const s = await chat.state();
    expect(s?.step).toBe("move");
    expect(s && "pollJobId" in s ? s.pollJobId : undefined).toBeUndefined();
  });

  it("with a closed API too: a poll that can't see the Move says so at once and stops", async () => {
    const { chat, world } = await atMove({ authorizedFetch: true, closedApi: "unauthenticated" });
    await chat.placeAt(world.stateAt("move", chat.sealer, { pollJobId: "poll-1" }));
    await chat.jobs.start(chat.user, {
      kind: "move-poll",
      id: "poll-1",
      data: { until: Date.now() + 60_000 },
    });
    await chat.until((s) => s?.step === "move" && !s.pollJobId);
    expect(says(chat)).toContain(
      "old.example shows your profile only to requests signed by a server, and its API only to signed-in apps, so I can't see the move from here. If the move page said your account is now redirected to @ada@mb.example, tell me and I'll start watching your followers move.",
    );
    expect(chat.choices.map((c) => c.label)).toEqual(["The page said it's moved", "Check again"]);
  });

  it("with a public address, the bot signs: the Move is seen and the followers counted from the collection", async () => {
    const { chat, old } = await atMove(
      { authorizedFetch: true, closedApi: "unauthenticated" },
      { publicUrl: true },
    );
    await movedAndCounted(chat, old);
  });
});

describe("an old server with a closed API only", () => {
  it("counts from the ActivityPub followers collection's totalItems", async () => {
    const { chat, old } = await atMove({ closedApi: "unauthenticated" });
    await movedAndCounted(chat, old);
  });
});

describe("an old server that can't be read at all, and a Mastodon new account", () => {
  it("counts from the new account's own follower count, and the end says so truthfully", async () => {
    // A settle period long enough that the count can't settle before the followers leave.
    const { chat, old, world } = await atMove(
      { authorizedFetch: true, closedApi: "unauthenticated" },
      { watch: { settleMs: 2_000 } },
    );
    const neu = closing(await startNewMastodon(world));
    // Two followers before the Move: not moved ones, so not counted.
    neu.seedFollowers("ada", 2, { domains: ["c.example"] });
    await chat.placeAt({
      ...world.stateAt("move", chat.sealer),
      target: mastodonTarget(neu, "ada", chat.sealer, neu.issueToken("ada", ["read"])),
    } as State);
    await chat.send("/status");
    // Nothing leaves by itself (an hour a tick); each follower who leaves follows the new account.
    await old.performMove("ada", "ada@new.example", {
      transfer: { perTick: 1, tickMs: 3_600_000, onLeave: (f) => void neu.follow(f.acct, "ada") },
    });
    await chat.press("I've moved");
    await chat.press("The page said it's moved");
    await chat.until(() => says(chat).some((s) => s.startsWith("I can't count")));
    expect(says(chat).find((s) => s.startsWith("I can't count"))).toBe(
      "I can't count your followers on old.example: its API answers only signed-in apps, and it shows your profile only to requests signed by a server, which I can only make when I run with a public address (PUBLIC_URL). Your followers are moving all the same. I can count them from your new account instead: how many followers @ada@new.example gains from the move on. Or I can finish now without a count.",
    );
    expect(chat.notified.at(-1)).toMatchObject({
      choices: [{ label: "Count from the new account" }, { label: "Finish without a count" }],
    });
    const counting = await chat.press("Count from the new account");
    expect(counting.lines[0]).toBe(
      "Counting from @ada@new.example: I'll tell you how many followers it gained when the count stops changing; /status any time.",
    );
    expect(await statusOnceSaved(chat)).toBe(
      "I can't count your followers on old.example, but they are moving all the same. Counting from your new account instead: @ada@new.example has gained 0 since the watch began (2 → 2).",
    );
    expect(old.transferNow("ada", 12)).toBe(12);
    await chat.until((s) => s?.step === "finished");
    const finished = says(chat).filter((s) => s.startsWith("Your move is finished"));
    expect(finished).toEqual([
      "Your move is finished: counted from your new account, since your old server never let me count there, it gained 12 followers since the move; your old account had 30.\nThe count has stopped changing, so I'm calling it done.",
    ]);
    expect(finished[0]).not.toMatch(/%/);
    expect(await chat.state()).toMatchObject({
      step: "finished",
      result: { counted: true, from: "new", moved: 12, initial: 30 },
    });
  });
});

describe("a new server in secure mode (GoToSocial always is)", () => {
  /** Ada's new account on new.example, a Mastodon stand-in in secure mode, alias set. */
  async function secureTarget(step: "alias" | "preflight" | "importing") {
    const world = await openWorld({ alias: true });
    const fresh = closing(await startNewMastodon(world, { authorizedFetch: true }));
    const chat = await makeChat(world.loopback, { pollMs: 30 });
    await chat.store.namespace("snapshots").set(chat.user, world.snapshot(30));
    // Following while the alias is asked ("Follow them, then move", signed in to the old account).
    const importing = {
      jobId: "import-1",
      startedAt: Date.now(),
      after: "move",
      aliasDone: false,
      source: {
        kind: "account",
        old: {
          instance: {
            origin: world.old.url,
            host: "old.example",
            domain: "old.example",
            version: "4.3.2",
          },
          id: world.old.getAccount("ada")!.id,
          handle: "ada@old.example",
          token: chat.sealer.seal("unused"),
          via: "pasted",
        },
      },
    };
    await chat.placeAt({
      ...world.stateAt(step === "importing" ? "alias" : step, chat.sealer),
      ...(step === "importing" ? { ...importing, step } : {}),
      target: mastodonTarget(fresh, "ada", chat.sealer),
    } as State);
    return chat;
  }

  const WHY =
    'I couldn\'t check the alias: new.example shows its accounts only to requests signed by a server, which I can only make when I run with a public address (PUBLIC_URL). The move page checks it too: if it says "not an alias of this account", the alias for @ada@old.example is missing or not yet seen.';

  it("the alias step says what it couldn't check and lets the user go on", async () => {
    const chat = await secureTarget("alias");
    const r = await chat.send("done");
    expect(r.text).toBe(WHY);
    expect((await chat.state())?.step).toBe("alias");
    const on = await chat.press("Go on without the check");
    expect(on.lines[0]).toBe("Going on without the check; the move page will have the last word.");
    expect((await chat.state())?.step).toBe("preflight");
  });

  it("asked while the follows go out, the alias can't be checked either: said so, and the user goes on", async () => {
    const chat = await secureTarget("importing");
    const r = await chat.send("Both done");
    expect(r.text).toBe(WHY);
    expect((await chat.state())?.step).toBe("importing");
    const on = await chat.press("Go on without the check");
    expect(on.lines).toEqual([
      "Going on without the check; the move page will have the last word.",
      "I'll show the last checks before the move as soon as the follows are done.",
    ]);
    expect(await chat.state()).toMatchObject({ step: "importing", aliasDone: true });
  });

  it("pre-flight warns instead of blocking", async () => {
    const chat = await secureTarget("preflight");
    const r = await chat.send("/status");
    expect(r.lines[0]).toMatch(/^Before the move — all clear:\n/);
    expect(r.lines[0]).toContain(`⚠️ ${WHY}`);
    expect(r.lines[0]).toContain(
      "⚠️ Nor can I see whether @ada@new.example approves followers by hand",
    );
  });
});
