/**
 * The real bot process when Telegram refuses its token while it runs (revoked in BotFather):
 * it stops, non-zero, saying why and what to do, without the token — instead of asking
 * Telegram again every second forever (polling), or answering people into a refusal and
 * counting their replies delivered (webhook, where no poll would notice). The same when the
 * Mastodon server refuses the DM bot account's token.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { openStore } from "../../src/store/open-store.js";
import { BOT_SCOPES } from "../channels/dm-helpers.js";
import { freePort, until } from "./bots.js";
import { type Proc, startProcess } from "./process.js";

let tg: TelegramSandbox | undefined;
let sb: MastodonSandbox | undefined;
let bot: Proc | undefined;

afterEach(async () => {
  if (bot && bot.child.exitCode === null) bot.child.kill("SIGKILL");
  await bot?.exited;
  await tg?.close();
  await sb?.close();
  tg = undefined;
  sb = undefined;
});

/** Exited 1, saying why and what to do, and never the token. */
async function stoppedSayingWhy(bot: Proc, token: string): Promise<void> {
  const exit = await bot.exited;
  expect(exit.code).toBe(1);
  const said = bot.stderr();
  expect(said).toMatch(/TelegramTokenRefused: Telegram refused the bot token/);
  expect(said).toMatch(/@BotFather/);
  expect(said).not.toContain(token.split(":")[1]);
}

describe("the DM bot account's token revoked while the bot runs", () => {
  it("stops the process with exit code 1 and a clear reason", async () => {
    sb = await startMastodonSandbox({ domain: "bots.example", rateLimit: null });
    sb.addAccount({ username: "movebot" });
    const token = sb.issueToken("movebot", BOT_SCOPES);
    bot = startProcess("src/main.ts", {
      MASTODON_BOT_URL: sb.url,
      MASTODON_BOT_TOKEN: token,
      MASTODON_POLL_MS: "300",
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "fedimove-token-")),
      SANDBOX_ORIGINS: JSON.stringify({ "bots.example": sb.url }),
      ALLOW_PRIVATE_NETWORK: "true",
      LOG_LEVEL: "info",
    });
    const running = bot;
    await until(
      "the DM channel listening",
      () => running.stderr().includes("mastodon-dm: listening"),
      {
        ms: 60_000,
        bots: [bot],
      },
    );
    sb.revokeToken(token);
    const exit = await bot.exited;
    expect(exit.code).toBe(1);
    const said = bot.stderr();
    expect(said).toMatch(/MastodonTokenRefused: \S+ refused the bot account's token/);
    expect(said).toMatch(/The access token was revoked/);
    expect(said).toMatch(/MASTODON_BOT_TOKEN/);
    expect(said).not.toContain(token);
  }, 90_000);
});

describe("Telegram token revoked while the bot runs", () => {
  it("stops the process with exit code 1 and a clear reason", async () => {
    tg = await startTelegramSandbox();
    const token = tg.token;
    bot = startProcess("src/main.ts", {
      TELEGRAM_BOT_TOKEN: token,
      TELEGRAM_API_ROOT: tg.url,
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "fedimove-token-")),
      ALLOW_PRIVATE_NETWORK: "true",
      LOG_LEVEL: "warn",
    });
    const polling = tg;
    await until("the bot polls", () => polling.callsTo("getUpdates").length > 0, {
      ms: 60_000,
      bots: [bot],
    });
    tg.revokeToken();
    await stoppedSayingWhy(bot, token);
  }, 90_000);

  it("by webhook: the first reply Telegram refuses stops the process the same way", async () => {
    tg = await startTelegramSandbox({ allowLoopbackHttp: true });
    const token = tg.token;
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-token-"));
    bot = startProcess("src/main.ts", {
      TELEGRAM_BOT_TOKEN: token,
      TELEGRAM_API_ROOT: tg.url,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      PORT: String(port),
      DATA_DIR: dataDir,
      ALLOW_PRIVATE_NETWORK: "true",
      LOG_LEVEL: "warn",
    });
    const hooked = tg;
    await until("the webhook set", () => hooked.callsTo("setWebhook").some((c) => c.ok), {
      ms: 60_000,
      bots: [bot],
    });
    tg.sendText(4242, "/start");
    await tg.waitFor(4242, (m) => /^Hi!/.test(m.text ?? ""), 30_000);
    tg.revokeToken();
    tg.sendText(4242, "/help");
    await stoppedSayingWhy(bot, token);
    // The answer to /help waits in the outbox for the new token, not counted delivered.
    const store = await openStore(`sqlite:${path.join(dataDir, "fedimove.sqlite")}`);
    try {
      const saved = (await store.namespace("users").get("tg:4242")) as {
        outbox?: { replies: unknown[] }[];
      };
      expect(JSON.stringify(saved.outbox)).toMatch(/\/status/);
    } finally {
      await store.close();
    }
  }, 90_000);
});
