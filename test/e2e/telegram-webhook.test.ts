/**
 * Two real bot processes on one Redis, Telegram by webhook through a round-robin balancer: a
 * person's messages reach the two processes in turn, and the conversation stays in order.
 */
import { randomBytes, randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { startTelegramSandbox } from "../../sandbox/telegram.js";
import {
  allHealthy,
  type Bot,
  endedAfterEach,
  freePort,
  roundRobin,
  startBot,
  until,
} from "./bots.js";

const { killing, closing } = endedAfterEach();

describe("Telegram by webhook, two processes", () => {
  it("a person's messages alternate between the processes and are answered in order", async () => {
    const tg = closing(await startTelegramSandbox({ allowLoopbackHttp: true }));
    const user = randomInt(100_000_000, 900_000_000);
    const ports = [await freePort(), await freePort()];
    const lb = closing(await roundRobin(ports));
    const secret = randomBytes(24).toString("base64url");
    const bots: Bot[] = [];
    for (const port of ports) {
      const bot = await startBot({
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.url,
        STORE_URL: "redis://127.0.0.1:6379",
        FEDIMOVE_SECRET: secret,
        PUBLIC_URL: lb.url,
        PORT: String(port),
      });
      bots.push(killing(bot));
    }
    // Both have set the webhook once both listen (each sets the same one).
    await until(
      "both processes up and the webhook set",
      async () =>
        (await allHealthy(ports)) && tg.callsTo("setWebhook").filter((c) => c.ok).length >= 2,
      { bots, ms: 60_000 },
    );

    const forged = await fetch(
      `${lb.url}${new URL(tg.callsTo("setWebhook")[0]!.args.url as string).pathname}`,
      { method: "POST", body: JSON.stringify({ update_id: 1, message: { text: "x" } }) },
    );
    expect(forged.status).toBe(401);

    tg.sendText(user, "/start");
    await tg.waitFor(user, (m) => m.from === "bot" && /^Hi!/.test(m.text ?? ""), 30_000);
    const before = tg.chat(user).messages.filter((m) => m.from === "bot").length;
    const sent = ["/help", "/status", "/help", "/status", "/help", "/status"];
    for (const text of sent) tg.sendText(user, text);
    // Each /help is one message ("Commands…"), each /status the same few: wait for the last.
    await tg.waitFor(
      user,
      () => {
        const replies = tg
          .chat(user)
          .messages.filter((m) => m.from === "bot")
          .slice(before);
        const helps = replies.filter((m) => /^Commands/.test(m.text ?? "")).length;
        const firstStatus = replies.findIndex((m) => !/^Commands/.test(m.text ?? ""));
        const perStatus = replies
          .slice(firstStatus)
          .findIndex((m) => /^Commands/.test(m.text ?? ""));
        return helps === 3 && perStatus > 0 && replies.length >= 3 + 3 * perStatus;
      },
      60_000,
    );
    const replies = tg
      .chat(user)
      .messages.filter((m) => m.from === "bot")
      .slice(before);
    const isHelp = replies.map((m) => /^Commands/.test(m.text ?? ""));
    const perStatus = isHelp.indexOf(true, 1) - 1;
    expect(perStatus).toBeGreaterThan(0);
    // help, status…, help, status…, help, status…: in the order sent.
    expect(isHelp).toEqual(
      [0, 1, 2].flatMap(() => [true, ...Array<boolean>(perStatus).fill(false)]),
    );
    // Both processes took the person's updates, and every one was answered 2xx.
    expect(lb.served.every((n) => n >= 3)).toBe(true);
    expect(tg.webhookDeliveries().every((d) => d.status === 200)).toBe(true);
  }, 120_000);
});

describe("Telegram by webhook, refused", () => {
  it("a process whose webhook Telegram refuses stops at start with Telegram's reason", async () => {
    // No liberty here: the stand-in refuses an http webhook as Telegram does.
    const tg = closing(await startTelegramSandbox());
    const port = await freePort();
    const bot = await startBot({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.url,
      STORE_URL: "memory:",
      FEDIMOVE_SECRET: randomBytes(24).toString("base64url"),
      PUBLIC_URL: `http://127.0.0.1:${port}/`,
      PORT: String(port),
    });
    killing(bot);
    const { code } = await bot.exited;
    expect(code).toBe(1);
    const said = bot.stderr();
    const fatal = said
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg: string; err?: string })
      .find((l) => l.msg === "fatal");
    expect(fatal?.err).toBe(
      `WebhookRefused: Telegram refused the webhook at PUBLIC_URL http://127.0.0.1:${port}: "Bad Request: bad webhook: An HTTPS URL must be provided for webhook". Telegram sends updates only to https on port 443, 80, 88 or 8443 at a public address; set such a PUBLIC_URL, or TELEGRAM_WEBHOOK=false to poll instead.`,
    );
    const hook = new URL(tg.callsTo("setWebhook")[0]!.args.url as string);
    expect(said).not.toContain(hook.pathname);
    expect(said).not.toContain(tg.token);
    expect(said).not.toContain(tg.token.split(":")[1]);
  }, 60_000);
});
