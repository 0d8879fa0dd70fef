/**
 * The transfer watch against the stand-ins: the old server moves followers away
 * over time, some stay on servers that never answer. Intervals are compressed
 * from hours into milliseconds; the messages are the ones a user would read.
 */
import { describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { RecipientGoneError } from "../../src/chat/conversation.js";
import type { WatchOptions } from "../../src/jobs/watch-job.js";
import { CountedProgress } from "../../src/model/jobs.js";
import { FAST_WATCH, makeChat, render } from "../helpers/chat.js";
import { closedAfterEach } from "../helpers/closing.js";
import { moveWorlds } from "../helpers/worlds.js";

const openWorld = moveWorlds();
const closing = closedAfterEach<MastodonSandbox>();

async function movedAccount(
  opts: { followers?: number; quiet?: number; hide?: boolean; watch?: Partial<WatchOptions> } = {},
) {
  const world = await openWorld({
    followers: [
      { count: opts.followers ?? 30, domains: ["a.example", "b.example"] },
      ...(opts.quiet ? [{ count: opts.quiet, domains: ["quiet.example"] }] : []),
    ],
    hideCollections: opts.hide,
    alias: true,
  });
  const chat = await makeChat(world.loopback, { watch: { ...FAST_WATCH, ...opts.watch } });
  const total = (opts.followers ?? 30) + (opts.quiet ?? 0);
  await chat.store.namespace("snapshots").set(chat.user, world.snapshot(total));
  await chat.placeAt(world.stateAt("move", chat.sealer));
  await chat.send("/status");
  return { chat, old: world.old, mb: world.mb };
}

/** Waits until the watch job has seen the old account at this many followers. */
async function seen(chat: Awaited<ReturnType<typeof makeChat>>, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const state = await chat.state();
    const id = state?.step === "watching" ? state.watchJobId : "";
    const data = CountedProgress.safeParse(await chat.jobs.progress(id)).data;
    if (data?.last?.count === count) return;
    if (Date.now() > deadline)
      throw new Error(`the watch never saw ${count}; it saw ${data?.last?.count}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const says = (chat: Awaited<ReturnType<typeof makeChat>>) =>
  render(chat.notified.filter((r) => r.kind !== "progress"));

describe("the transfer watch", () => {
  it("ends when the count reaches zero: one message with the numbers and the wrap-up", async () => {
    const { chat, old } = await movedAccount({ followers: 30 });
    await old.performMove("ada", "ada@mb.example", { transfer: { perTick: 10, tickMs: 60 } });
    const moved = await chat.press("I've moved");
    expect(moved.lines[0]).toBe("✅ @ada@old.example has moved to @ada@mb.example.");
    expect(moved.lines[1]).toMatch(/^Your followers are on their way/);
    await chat.until((s) => s?.step === "finished");
    const said = says(chat);
    expect(said.filter((s) => s.startsWith("Your move is finished"))).toEqual([
      "Your move is finished: 30 of 30 followers moved (100%).",
    ]);
    expect(said.at(-1)).toBe(
      `Last things: request your archive at ${old.url}/settings/export (once every 7 days). I can revoke my access now, and I'll forget everything I kept in 30 days.`,
    );
    const state = await chat.state();
    expect(state).toMatchObject({
      step: "finished",
      result: { initial: 30, moved: 30, stayed: 0, ended: "zero" },
    });
  });

  it("ends when the count settles: who stayed, by server, with a reason, and stayed.csv; milestones on the way", async () => {
    const { chat, old } = await movedAccount({ followers: 27, quiet: 3, watch: { settleMs: 600 } });
    await old.performMove("ada", "ada@mb.example", {
      transfer: { perTick: 1, tickMs: 3_600_000, stragglers: ["quiet.example"] },
    });
    await chat.press("I've moved");
    // Followers leave in three steps, each seen by the watch before the next.
    for (const left of [21, 12, 3]) {
      old.transferNow("ada", 9);
      await seen(chat, left);
    }
    await chat.until((s) => s?.step === "finished");
    const said = says(chat);
    expect(said).toContain("Half of your followers have moved: 18 of 30.");
    expect(said).toContain("90% of your followers have moved: 27 of 30.");
    const finished = said.find((s) => s.startsWith("Your move is finished"));
    expect(finished).toBe(
      [
        "Your move is finished: 27 of 30 followers moved (90%).",
        "3 stayed behind:",
        "• quiet.example: 3 — server not answering",
        "The count has stopped changing, so I'm calling it done.",
      ].join("\n"),
    );
    const csv = chat.notified.find((r) => r.kind === "file" && r.name === "stayed.csv");
    const rows = new TextDecoder()
      .decode(csv?.kind === "file" ? csv.bytes : new Uint8Array())
      .trimEnd()
      .split("\n");
    expect(rows[0]).toBe("Account address,Server,Likely reason");
    expect(
      rows.slice(1).every((r) => /@quiet\.example,quiet\.example,server not answering$/.test(r)),
    ).toBe(true);
    expect(rows).toHaveLength(4);
  });

  it("who stayed is explained by *their* server's software, read from its NodeInfo", async () => {
    const world = await openWorld({
      followers: [
        { count: 10, domains: ["a.example"] },
        { count: 2, domains: ["friends.example"] },
      ],
      alias: true,
    });
    // The followers' server answers NodeInfo: Mastodon, which follows a Move, so those two
    // are "still in progress, or chose not to"; the new server's software is never the reason.
    const friends = closing(
      await startMastodonSandbox({ domain: "friends.example", version: "4.2.10", rateLimit: null }),
    );
    world.origins["friends.example"] = friends.url;
    const chat = await makeChat(world.loopback, { watch: FAST_WATCH });
    await chat.store.namespace("snapshots").set(chat.user, world.snapshot(12));
    await chat.placeAt(world.stateAt("move", chat.sealer));
    await chat.send("/status");
    await world.old.performMove("ada", "ada@mb.example", {
      transfer: { perTick: 10, tickMs: 60, stragglers: ["friends.example"] },
    });
    await chat.press("I've moved");
    await chat.until((s) => s?.step === "finished");
    const finished = says(chat).find((s) => s.startsWith("Your move is finished"));
    expect(finished).toBe(
      [
        "Your move is finished: 10 of 12 followers moved (83%).",
        "2 stayed behind:",
        "• friends.example: 2 — mastodon: still in progress, or they chose not to follow",
        "The count has stopped changing, so I'm calling it done.",
      ].join("\n"),
    );
  });

  it("ends at the cap when followers keep trickling", async () => {
    const { chat, old } = await movedAccount({
      followers: 30,
      watch: { capMs: 300, settleMs: 10_000 },
    });
    await old.performMove("ada", "ada@mb.example", { transfer: { perTick: 1, tickMs: 100 } });
    await chat.press("I've moved");
    await chat.until((s) => s?.step === "finished");
    const finished = says(chat).find((s) => s.startsWith("Your move is finished"));
    expect(finished).toMatch(
      /^Your move is finished: \d+ of 30 followers moved \(\d+%\)\.\n\d+ stayed behind:/,
    );
    expect(finished).toMatch(/It's been two weeks, so I've stopped watching\.$/);
    expect(await chat.state()).toMatchObject({ step: "finished", result: { ended: "cap" } });
  });

  it("a hidden followers list: the count only, said plainly", async () => {
    const { chat, old } = await movedAccount({ followers: 20, quiet: 2, hide: true });
    await old.performMove("ada", "ada@mb.example", {
      transfer: { perTick: 10, tickMs: 60, stragglers: ["quiet.example"] },
    });
    await chat.press("I've moved");
    await chat.until((s) => s?.step === "finished");
    const finished = says(chat).find((s) => s.startsWith("Your move is finished"));
    expect(finished).toBe(
      "Your move is finished: 20 of 22 followers moved (91%).\n2 stayed behind; your old server doesn't show who they are.\nThe count has stopped changing, so I'm calling it done.",
    );
  });

  it("/status while it runs: moved N of M with a bar, and where those left are", async () => {
    const { chat, old } = await movedAccount({ followers: 30, watch: { settleMs: 60_000 } });
    await old.performMove("ada", "ada@mb.example", { transfer: { perTick: 1, tickMs: 3_600_000 } });
    await chat.press("I've moved");
    old.transferNow("ada", 10);
    await seen(chat, 20);
    const status = await chat.send("/status");
    expect(status.lines[0]).toMatch(/^Moved 10 of 30 followers ▓▓▓░░░░░░░ 33%/);
    expect(status.lines[0]).toMatch(
      /Still on the old account: 20 — most on (a|b)\.example \(\d+\), (a|b)\.example \(\d+\)\.$/,
    );
    await chat.jobs.cancelAll(chat.user);
  });

  it("a user who blocked the bot: the watch ends and nothing is kept", async () => {
    const { chat, old } = await movedAccount({ followers: 10 });
    await old.performMove("ada", "ada@mb.example", { transfer: { perTick: 10, tickMs: 60 } });
    await chat.press("I've moved");
    chat.engine.notifier = {
      async notify() {
        throw new RecipientGoneError("blocked");
      },
    };
    await chat.until((s) => s === undefined);
    expect(await chat.state()).toBeUndefined();
    expect(await chat.store.namespace("snapshots").get(chat.user)).toBeUndefined();
  });
});
