/**
 * Replies are saved with the state and delivered until acknowledged: a process killed between
 * the save and the send delivers them once after a restart, a send that succeeded is never
 * repeated, and a send that failed doesn't turn into "nothing changed".
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { TelegramChannel } from "../../src/channels/telegram.js";
import { plain } from "../../src/chat/text.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";

const said = (replies: readonly { kind: string; text?: unknown }[]) =>
  replies.filter((r) => r.kind === "say").map((r) => plain(r.text as never));

class Killed extends Error {}

async function until(done: () => Promise<boolean>): Promise<void> {
  for (let k = 0; k < 400; k++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("timed out");
}

describe("the outbox", () => {
  it("a process killed between the save and the send delivers the replies once after restart", async () => {
    const store = openMemoryStore(`outbox-${randomUUID()}`);
    const before = await makeChat(fakeWorld(), { store, user: "tg:7" });
    // The greeting is saved with the state; the process dies before it goes out.
    const turn = await before.engine.receive(
      "tg:7",
      { kind: "command", name: "start", args: "" },
      async () => {
        throw new Killed("SIGKILL");
      },
    );
    expect(turn.delivered).toBe(false);
    expect((await before.state())?.step).toBe("welcome");
    await before.core.close();

    const after = await makeChat(fakeWorld(), { store, user: "tg:7" });
    expect(await after.engine.deliverPending()).toBe(1);
    expect(said(after.notified)).toEqual([expect.stringMatching(/^Hi! I'll move your Mastodon/)]);
    // Once: another sweep, and the person's next message, don't bring it again.
    expect(await after.engine.deliverPending()).toBe(0);
    const next = await after.send("ok");
    expect(next.text).toBe("Which Mastodon server is your account on? (e.g. mastodon.social)");
    expect(said(after.notified)).toHaveLength(1);
    await after.core.close();
  });

  it("replies saved by a turn that didn't index the user again (still indexed), or after a sweep took them out, are found by the sweep after a kill", async () => {
    const store = openMemoryStore(`outbox-${randomUUID()}`);
    const first = await makeChat(fakeWorld(), { store, user: "tg:9" });
    await first.send("/start");
    // Still in the index from the turn before: this turn's save doesn't put them in again.
    await first.engine.receive("tg:9", { kind: "command", name: "help", args: "" }, async () => {
      throw new Killed("SIGKILL");
    });
    await first.core.close();
    const second = await makeChat(fakeWorld(), { store, user: "tg:9" });
    expect(await second.engine.deliverPending()).toBe(1);
    // The sweep found nothing more waiting and took them out; the next turn puts them back.
    expect(await second.engine.deliverPending()).toBe(0);
    await second.engine.receive("tg:9", { kind: "command", name: "help", args: "" }, async () => {
      throw new Killed("SIGKILL");
    });
    await second.core.close();
    const third = await makeChat(fakeWorld(), { store, user: "tg:9" });
    expect(await third.engine.deliverPending()).toBe(1);
    expect(said(third.notified)).toEqual([expect.stringMatching(/^Commands/)]);
    await third.core.close();
  });

  it("a send that succeeded is acknowledged and never repeated", async () => {
    const store = openMemoryStore(`outbox-${randomUUID()}`);
    const chat = await makeChat(fakeWorld(), { store, user: "tg:8" });
    await chat.send("/start");
    await chat.send("ok");
    expect(await chat.engine.deliverPending()).toBe(0);
    expect(chat.notified).toEqual([]);
    await chat.core.close();
  });
});

describe("the outbox on Telegram", () => {
  let tg: TelegramSandbox | undefined;
  let channel: TelegramChannel | undefined;
  afterEach(async () => {
    await channel?.stop();
    await tg?.close();
    channel = undefined;
  });

  it("a send that failed is not answered with 'nothing changed'; it arrives, once, before the next answer", async () => {
    tg = await startTelegramSandbox();
    const chat = await makeChat(fakeWorld(), { user: "tg:4242" });
    channel = new TelegramChannel({
      token: tg.token,
      apiRoot: tg.url,
      engine: chat.engine,
      retries: 0,
    });
    chat.engine.notifier = channel;
    await channel.start();

    tg.failNext("sendMessage", { status: 502, description: "Bad Gateway" });
    tg.sendText(4242, "/start");
    // The turn is over once its state is saved and its one send was refused.
    await until(async () => (await chat.state())?.step === "welcome");
    await until(async () => tg!.callsTo("sendMessage").length >= 1);
    tg.sendText(4242, "/help");
    await tg.waitFor(4242, (m) => m.from === "bot" && /^Commands/.test(m.text ?? ""), 20_000);

    const texts = tg.chat(4242).bot.map((m) => m.text ?? "");
    expect(texts.filter((t) => /nothing changed/i.test(t))).toEqual([]);
    expect(texts.filter((t) => /^Hi! I'll move your Mastodon/.test(t))).toHaveLength(1);
    expect(texts.findIndex((t) => /^Hi! I'll move/.test(t))).toBeLessThan(
      texts.findIndex((t) => /^Commands/.test(t)),
    );
    await chat.core.close();
  });
});

describe("an input handed over again", () => {
  const start = { kind: "command", name: "start", args: "" } as const;

  it("after its replies were delivered and acknowledged, is dropped: the step doesn't run again", async () => {
    const store = openMemoryStore(`outbox-${randomUUID()}`);
    const chat = await makeChat(fakeWorld(), { store, user: "tg:9" });
    const got: string[][] = [];
    const deliver = async (t: { replies: readonly { kind: string; text?: unknown }[] }) => {
      // Told of every input, with nothing to say for one handled already.
      if (t.replies.length > 0) got.push(said(t.replies));
    };
    await chat.engine.receive("tg:9", start, deliver, "tg-update:1");
    await chat.engine.receive("tg:9", { kind: "text", text: "ok" }, deliver, "tg-update:2");
    const seq = (await store.namespace("users").get("tg:9")) as { seq: number };
    // Telegram hands both updates over again (their offset wasn't confirmed before a kill).
    const again = await chat.engine.receive(
      "tg:9",
      { kind: "text", text: "ok" },
      deliver,
      "tg-update:2",
    );
    await chat.engine.receive("tg:9", start, deliver, "tg-update:1");
    expect(again.replies).toEqual([]);
    expect(got).toHaveLength(2);
    expect(await store.namespace("users").get("tg:9")).toMatchObject({ seq: seq.seq });
    expect(chat.notified).toEqual([]);
    // A new update is a new turn.
    await chat.engine.receive(
      "tg:9",
      { kind: "text", text: "mastodon.social" },
      deliver,
      "tg-update:3",
    );
    expect(got).toHaveLength(3);
    await chat.core.close();
  });

  it("while its replies still wait in the outbox, is answered from there once", async () => {
    const store = openMemoryStore(`outbox-${randomUUID()}`);
    const before = await makeChat(fakeWorld(), { store, user: "tg:10" });
    await before.engine.receive(
      "tg:10",
      start,
      async () => {
        throw new Killed("SIGKILL");
      },
      "tg-update:5",
    );
    await before.core.close();

    const after = await makeChat(fakeWorld(), { store, user: "tg:10" });
    let ran = 0;
    const turn = await after.engine.receive(
      "tg:10",
      start,
      async (t) => {
        ran += t.replies.length;
      },
      "tg-update:5",
    );
    expect(turn.replies).toEqual([]);
    expect(ran).toBe(0);
    expect(said(after.notified)).toEqual([expect.stringMatching(/^Hi! I'll move your Mastodon/)]);
    expect(await after.engine.deliverPending()).toBe(0);
    await after.core.close();
  });

  it("is told to the channel with nothing to say, and deleted if it may hold a secret", async () => {
    const store = openMemoryStore(`outbox-${randomUUID()}`);
    const chat = await makeChat(fakeWorld(), { store, user: "tg:12" });
    await chat.engine.receive("tg:12", start, async () => undefined, "tg-update:1");
    const told: { replies: number; secret: boolean }[] = [];
    const deliver = async (t: { replies: readonly unknown[]; secret: boolean }) => {
      told.push({ replies: t.replies.length, secret: t.secret });
    };
    await chat.engine.receive("tg:12", start, deliver, "tg-update:1");
    // A token typed, handled before a kill that came before its message was deleted.
    await chat.engine.receive(
      "tg:12",
      { kind: "text", text: "mastodon.social" },
      deliver,
      "tg-update:2",
    );
    const token = { kind: "text", text: "Zk3x9Qw2Lm8Rt5Yp1Vb7Nc4Hd6Jf0Gs2Ae9Ui3Oo" } as const;
    await chat.engine.receive("tg:12", token, deliver, "tg-update:3");
    await chat.engine.receive("tg:12", token, deliver, "tg-update:3");
    expect(told[0]).toEqual({ replies: 0, secret: false });
    expect(told.at(-1)).toEqual({ replies: 0, secret: true });
    await chat.core.close();
  });

  it("keeps only the latest ids, in the same write as the state", async () => {
    const store = openMemoryStore(`outbox-${randomUUID()}`);
    const chat = await makeChat(fakeWorld(), { store, user: "tg:11" });
    for (let k = 0; k < 60; k++)
      await chat.engine.receive(
        "tg:11",
        { kind: "command", name: "status", args: "" },
        async () => undefined,
        `tg-update:${k}`,
      );
    const saved = (await store.namespace("users").get("tg:11")) as { handled: string[] };
    expect(saved.handled).toHaveLength(50);
    expect(saved.handled.at(-1)).toBe("tg-update:59");
    await chat.core.close();
  });
});

describe("a turn's replies on Telegram across a kill between two of them", () => {
  let tg: TelegramSandbox | undefined;
  afterEach(async () => {
    await tg?.close();
  });

  it("the reply that went out before the kill isn't sent again; the rest is, once", async () => {
    tg = await startTelegramSandbox();
    const store = openMemoryStore(`outbox-${randomUUID()}`);
    const user = "tg:4343" as const;
    const before = await makeChat(fakeWorld(), { store, user });
    const first = new TelegramChannel({ token: tg.token, apiRoot: tg.url, engine: before.engine });
    tg.sendText(4343, "/start"); // the chat exists once the person wrote (nobody polls here)
    await before.engine.receive(user, { kind: "command", name: "start", args: "" });
    // A token pasted at the welcome: two replies (what happened to it, then the question).
    const token = "0123456789ABCDEF0123456789ABCDEF";
    const turn = await before.engine.receive(
      user,
      { kind: "text", text: token },
      async (t) => {
        await first.notify(user, t.replies, t.seq, t.id, {
          from: 0,
          sent: async (count) => {
            await t.progress!.sent(count);
            // The process dies as soon as the first reply is out and that is saved.
            throw new Killed("SIGKILL");
          },
        });
      },
      "tg-update:77",
    );
    expect(turn.replies).toHaveLength(2);
    expect(turn.delivered).toBe(false);
    await before.core.close();

    const after = await makeChat(fakeWorld(), { store, user });
    const second = new TelegramChannel({ token: tg.token, apiRoot: tg.url, engine: after.engine });
    after.engine.notifier = second;
    expect(await after.engine.deliverPending()).toBe(1);
    // Telegram hands the update over again: not run again.
    await after.engine.receive(user, { kind: "text", text: token }, undefined, "tg-update:77");
    const texts = tg.chat(4343).bot.map((m) => m.text ?? "");
    expect(texts.filter((t) => /^That looks like/.test(t))).toHaveLength(1);
    const [, question] = said(turn.replies);
    expect(texts.filter((t) => t === question)).toHaveLength(1);
    expect(texts.at(-1)).toBe(question);
    await after.core.close();
  });
});
