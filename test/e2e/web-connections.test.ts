/**
 * The bot's web side under a crowd of idle sockets: the real bot process, with PUBLIC_URL and
 * the file-descriptor limit many systems give a service (1,024), keeps talking to Telegram
 * while 1,100 sockets are held open on its web port; sockets past its cap are closed at once.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startMastodonSandbox } from "../../sandbox/mastodon.js";
import { startTelegramSandbox } from "../../sandbox/telegram.js";
import { endedAfterEach, startBot, until } from "./bots.js";

const USER = 4242;
const { killing, closing } = endedAfterEach();
const sockets: Socket[] = [];

// Registered after endedAfterEach, so run before it: the sockets go before the bot is killed.
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

/** Opens a socket that says nothing; resolves once it's connected, with whether the server closed it. */
function idle(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.on("error", () => undefined);
    socket.once("connect", () => resolve({ socket, closed }));
    socket.once("error", reject);
  });
}

describe("the web side under 1,100 idle sockets", () => {
  it("the bot still answers on Telegram, and sockets past the cap are closed", async () => {
    const tg = closing(await startTelegramSandbox());
    const masto = closing(
      await startMastodonSandbox({ domain: "hachyderm.example", rateLimit: null }),
    );
    const bot = await startBot(
      {
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.url,
        LOG_LEVEL: "info",
        PUBLIC_URL: "https://bot.example",
        // Polling: this is about the bot's file descriptors, not how updates arrive.
        TELEGRAM_WEBHOOK: "false",
      },
      { fdLimit: 1024 },
    );
    killing(bot);
    const { port } = bot;
    const logged = (what: string) => () => bot.stderr().includes(what);
    await until(
      "the web side listening",
      logged(`"web: listening","at":"http://127.0.0.1:${port}"`),
      {
        ms: 20_000,
        bots: [bot],
      },
    );
    await until("polling Telegram", logged("telegram: polling"), { ms: 20_000, bots: [bot] });
    tg.sendText(USER, "/start");
    // The welcome ends with the first question: which server.
    await tg.waitFor(
      USER,
      (m) => /^Hi! I'll move[\s\S]*Which Mastodon server/.test(m.text ?? ""),
      20_000,
    );

    for (let i = 0; i < 1100; i += 1) await idle(port);
    // Past the cap, a new connection is closed by the bot without a word.
    const extra = await idle(port);
    await extra.closed;
    expect(extra.socket.bytesRead).toBe(0);

    // Outgoing requests still work, to a server not yet connected to: the bot looks at the
    // Mastodon server it's told and answers on Telegram.
    tg.sendText(USER, masto.url);
    const next = await tg.waitFor(
      USER,
      (m) => m.from === "bot" && /^Tap to let me read your account/.test(m.text ?? ""),
      20_000,
    );
    expect(next.text).toMatch(/^Tap to let me read your account/);
    expect(bot.stderr()).not.toMatch(/EMFILE/);
  }, 60_000);
});
