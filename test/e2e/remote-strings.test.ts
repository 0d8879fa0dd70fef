/**
 * A server's strings of any length reach a Telegram chat elided, within Telegram's real limit
 * (4,096 characters a message): a Mastodon server that calls itself by a 5,000-character
 * domain still gets its user signed in and told so.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import {
  type MessageView,
  startTelegramSandbox,
  type TelegramSandbox,
} from "../../sandbox/telegram.js";
import { killAll, startBot } from "./bots.js";
import type { Proc } from "./process.js";

const USER = 4242;
let tg: TelegramSandbox | undefined;
let masto: MastodonSandbox | undefined;
const procs: Proc[] = [];

afterEach(async () => {
  await killAll(procs);
  await tg?.close();
  await masto?.close();
});

const textOf = (m: MessageView) => m.text ?? "";

describe("remote strings in Telegram messages", () => {
  it("a 5,000-character domain is elided, and the reply arrives", async () => {
    const domain = `${"long-".repeat(999)}x.example`;
    expect(domain.length).toBeGreaterThan(5000);
    tg = await startTelegramSandbox();
    masto = await startMastodonSandbox({ domain, rateLimit: null });
    masto.addAccount({ username: "ada" });
    masto.seedFollows("ada", 3);
    const token = masto.issueToken("ada", ["read:accounts", "read:follows"]);
    const bot = await startBot({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.url,
      HTTP_TIMEOUT_MS: "5000",
    });
    procs.push(bot);
    const says = (pattern: RegExp) =>
      tg!.waitFor(USER, (m) => m.from === "bot" && pattern.test(textOf(m)), 20_000);
    const press = (m: MessageView, label: string) => {
      const button = m.replyMarkup?.inline_keyboard.flat().find((b) => b.text === label);
      tg!.pressButton(USER, m.messageId, button!.callback_data!);
    };

    tg.sendText(USER, "/start");
    await says(
      /^Hi! I'll move your Mastodon account[\s\S]*Which Mastodon server is your account on\?/,
    );
    tg.sendText(USER, masto.url);
    press(await says(/^Tap to let me read your account/), "Paste a token instead");
    await says(/^To read your account, I need an access token/);
    tg.sendText(USER, token);

    const signedIn = await says(/^Signed in as @ada@long-long-/);
    // The start and the end of the handle, "…" between.
    expect(textOf(signedIn)).toMatch(
      /^Signed in as @ada@(long-){5,}[a-z-]*…[a-z-]*(long-){5,}x\.example\. Saving everything the move will lock away…$/,
    );
    expect(textOf(signedIn).length).toBeLessThan(400);
    expect(bot.stderr()).not.toMatch(/message is too long/);
  }, 60_000);
});
