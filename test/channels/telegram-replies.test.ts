/** Each reply is delivered on its own: a refused file doesn't keep the next question from the person. */
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import type { TelegramChannel } from "../../src/channels/telegram.js";
import { type Reply, say } from "../../src/chat/conversation.js";
import { channelOn } from "./telegram-channel.js";

const USER = 4242;
let tg: TelegramSandbox | undefined;
let channel: TelegramChannel | undefined;

afterEach(async () => {
  await channel?.stop();
  await tg?.close();
  channel = undefined;
});

const REPLIES: Reply[] = [
  say(["Your follows are saved."]),
  {
    kind: "file",
    name: "following_accounts.csv",
    bytes: new TextEncoder().encode("Account address\nbob@b.example\n"),
    again: ["Send /status and I'll send it again."],
  },
  { kind: "file", name: "other.zip", bytes: new Uint8Array([1, 2, 3]) },
  say(["Where is your new account?"]),
];

async function chatAfter(fault: Parameters<TelegramSandbox["failNext"]>[1]) {
  tg = await startTelegramSandbox();
  channel = channelOn(tg, () => REPLIES, { retries: 1 });
  await channel.start();
  tg.failNext("sendDocument", fault);
  tg.sendText(USER, "next");
  await tg.waitFor(USER, (m) => m.text === "Where is your new account?", 20_000);
  return tg.chat(USER).bot.map((m) => (m.kind === "document" ? `📎 ${m.document?.name}` : m.text));
}

describe("Telegram replies", () => {
  it("a document Telegram refuses (4xx) becomes a message, and the next reply still arrives", async () => {
    const seen = await chatAfter({
      status: 400,
      description: "Bad Request: file must be non-empty",
    });
    expect(seen).toEqual([
      "Your follows are saved.",
      "I couldn't send you following_accounts.csv — Telegram refused it: Bad Request: file must be non-empty. Send /status and I'll send it again.",
      "📎 other.zip",
      "Where is your new account?",
    ]);
  });

  it("a document that still fails after the retries (5xx) becomes a message too", async () => {
    const seen = await chatAfter({ status: 502, description: "Bad Gateway", times: 2 });
    expect(seen).toEqual([
      "Your follows are saved.",
      "I couldn't send you following_accounts.csv — Telegram refused it: Bad Gateway. Send /status and I'll send it again.",
      "📎 other.zip",
      "Where is your new account?",
    ]);
  });

  it("a reply waiting out flood control when the channel stops is not sent after it stopped", async () => {
    tg = await startTelegramSandbox();
    const stopping = channelOn(tg, () => [say(["Where is your new account?"])]);
    channel = stopping;
    await stopping.prepare();
    // Telegram says: try again in 3 s (within auto-retry's bound, so the call waits it out).
    tg.failNext("sendMessage", { status: 429, retryAfter: 3 });
    const sending = stopping.notify("tg:4242", [say(["Your follows are saved."])]);
    const failed = sending.then(
      () => "sent",
      () => "not sent",
    );
    while (tg.callsTo("sendMessage").length === 0) await new Promise((r) => setTimeout(r, 10));
    await stopping.stop();
    channel = undefined;
    // Thrown, so the engine keeps the reply in the outbox; and nothing went out after the stop.
    expect(await failed).toBe("not sent");
    await new Promise((r) => setTimeout(r, 3500));
    expect(tg.callsTo("sendMessage")).toHaveLength(1);
    expect(tg.chat(USER).bot).toEqual([]);
  });
});
