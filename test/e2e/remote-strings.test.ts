/**
 * A server's strings of any length reach a Telegram chat elided, within Telegram's real limit
 * (4,096 characters a message): a Mastodon server that calls itself by a 5,000-character
 * domain still gets its user signed in and told so.
 */
import { describe, expect, it } from "vitest";
import { startMastodonSandbox } from "../../sandbox/mastodon.js";
import { type MessageView, startTelegramSandbox } from "../../sandbox/telegram.js";
import { endedAfterEach, startBot } from "./bots.js";

const USER = 4242;
const { killing, closing } = endedAfterEach();

const textOf = (m: MessageView) => m.text ?? "";

describe("remote strings in Telegram messages", () => {
  it("a 5,000-character domain is elided, and the reply arrives", async () => {
    const domain = `${"long-".repeat(999)}x.example`;
    expect(domain.length).toBeGreaterThan(5000);
    const tg = closing(await startTelegramSandbox());
    const masto = closing(await startMastodonSandbox({ domain, rateLimit: null }));
    masto.addAccount({ username: "ada" });
    masto.seedFollows("ada", 3);
    const token = masto.issueToken("ada", ["read:accounts", "read:follows"]);
    const bot = killing(
      await startBot({
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.url,
        HTTP_TIMEOUT_MS: "5000",
      }),
    );
    const says = (pattern: RegExp) =>
      tg.waitFor(USER, (m) => m.from === "bot" && pattern.test(textOf(m)), 20_000);
    const press = (m: MessageView, label: string) => {
      const button = m.replyMarkup?.inline_keyboard.flat().find((b) => b.text === label);
      tg.pressButton(USER, m.messageId, button!.callback_data!);
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
