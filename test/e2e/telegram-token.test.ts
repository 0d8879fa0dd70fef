/**
 * The real bot process when Telegram refuses its token while it runs (revoked in BotFather):
 * it stops, non-zero, saying why and what to do, without the token — instead of asking
 * Telegram again every second forever.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { until } from "./bots.js";
import { type Proc, startProcess } from "./process.js";

let tg: TelegramSandbox | undefined;
let bot: Proc | undefined;

afterEach(async () => {
  if (bot && bot.child.exitCode === null) bot.child.kill("SIGKILL");
  await bot?.exited;
  await tg?.close();
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
    const exit = await bot.exited;
    expect(exit.code).toBe(1);
    const said = bot.stderr();
    expect(said).toMatch(/TelegramTokenRefused: Telegram refused the bot token/);
    expect(said).toMatch(/@BotFather/);
    expect(said).not.toContain(token.split(":")[1]);
  }, 90_000);
});
