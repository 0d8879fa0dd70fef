/** What the bot can't work without stops it at start; the command menu is not that. */
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import type { TelegramChannel } from "../../src/channels/telegram.js";
import { say } from "../../src/chat/conversation.js";
import { channelOn } from "./telegram-channel.js";

const USER = 4242;
let tg: TelegramSandbox | undefined;
let channel: TelegramChannel | undefined;

afterEach(async () => {
  await channel?.stop();
  await tg?.close();
  channel = undefined;
});

async function startRefused(fault: { status: number; description?: string; times?: number }) {
  tg = await startTelegramSandbox();
  tg.failNext("setMyCommands", fault);
  channel = channelOn(tg, () => [say(["Hi! I'm here."])]);
  await channel.start();
  tg.sendText(USER, "/start");
  const hi = await tg.waitFor(USER, (m) => m.from === "bot", 10_000);
  return hi.text;
}

describe("Telegram channel start", () => {
  it("a refused command menu (400) is logged and the bot answers anyway", async () => {
    const said = await startRefused({
      status: 400,
      description: "Bad Request: BOT_COMMANDS_TOO_MUCH",
    });
    expect(said).toBe("Hi! I'm here.");
    expect(tg!.callsTo("setMyCommands").length).toBeGreaterThan(0);
    expect(tg!.commands()).toEqual([]);
  });

  it("a command menu that keeps failing (5xx) doesn't hold the bot back", async () => {
    const said = await startRefused({ status: 500, times: 1000 });
    expect(said).toBe("Hi! I'm here.");
    expect(tg!.commands()).toEqual([]);
  });
});
