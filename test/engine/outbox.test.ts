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
