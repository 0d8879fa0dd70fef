/**
 * Telegram by webhook across a kill: updates a killed process had kept but not handled are
 * handled when a process starts, not left for the person's next message, and the one it was
 * handling when killed (its turn saved) is not run again.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { TelegramChannel } from "../../src/channels/telegram.js";
import { TelegramWebhook } from "../../src/channels/telegram-webhook.js";
import { collection } from "../../src/store/collection.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";

const PERSON = 4545;
let tg: TelegramSandbox | undefined;
let webhook: TelegramWebhook | undefined;

afterEach(async () => {
  await webhook?.stop();
  await tg?.close();
  webhook = undefined;
});

const update = (id: number, text: string) => ({
  update_id: id,
  message: {
    message_id: id,
    from: { id: PERSON, is_bot: false, first_name: "Ada" },
    chat: { id: PERSON, type: "private", first_name: "Ada" },
    date: Math.floor(Date.now() / 1000),
    text,
    ...(text.startsWith("/")
      ? { entities: [{ type: "bot_command", offset: 0, length: text.length }] }
      : {}),
  },
});

describe("Telegram by webhook, after a kill", () => {
  it("handles what a killed process left waiting, and doesn't run again the update it was handling", async () => {
    tg = await startTelegramSandbox({ allowLoopbackHttp: true });
    tg.sendText(PERSON, "hi"); // the chat exists once the person wrote
    const store = openMemoryStore(`webhook-${randomUUID()}`);
    const chat = await makeChat(fakeWorld(), { store, user: `tg:${PERSON}` });
    const channel = new TelegramChannel({ token: tg.token, apiRoot: tg.url, engine: chat.engine });
    chat.engine.notifier = channel;

    // The killed process had kept two updates, and handled the first (saved and answered).
    await chat.engine.receive(
      `tg:${PERSON}`,
      { kind: "command", name: "start", args: "" },
      undefined,
      "tg-update:900",
    );
    const inboxes = collection(
      store,
      "telegram-inbox",
      z.object({ last: z.number(), updates: z.array(z.looseObject({ update_id: z.number() })) }),
    );
    await inboxes.set(String(PERSON), {
      last: 901,
      updates: [update(900, "/start"), update(901, "/help")],
    });
    await store.scored("telegram-inbox-index").put("people", String(PERSON), Date.now());

    webhook = new TelegramWebhook({
      channel,
      store,
      publicUrl: "https://bot.example",
      secret: "a-secret-for-the-webhook-test-0123456789",
    });
    await webhook.start();
    await tg.waitFor(PERSON, (m) => m.from === "bot" && /^Commands/.test(m.text ?? ""), 20_000);
    await webhook.stop();

    const texts = tg.chat(PERSON).bot.map((m) => m.text ?? "");
    expect(texts.filter((t) => /^Hi! I'll move your Mastodon/.test(t))).toHaveLength(1);
    expect(texts.filter((t) => /^Commands/.test(t))).toHaveLength(1);
    expect((await inboxes.get(String(PERSON)))?.updates).toEqual([]);
    expect(await store.scored("telegram-inbox-index").upTo("people", Infinity)).toEqual([]);
    await chat.core.close();
  });
});
