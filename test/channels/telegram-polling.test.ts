/**
 * Telegram by long polling when things go wrong: the store away (updates can't be kept),
 * Telegram refusing the token (401), and another poller or a webhook in the way (409). What
 * Telegram sees (its getUpdates calls), what the operator reads (the log), and what the person
 * gets once things are back.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { TelegramChannel, TelegramTokenRefused } from "../../src/channels/telegram.js";
import { TelegramPolling } from "../../src/channels/telegram-polling.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";
import { observed } from "../helpers/store-ops.js";

const PERSON = 5151;
let tg: TelegramSandbox | undefined;
let polling: TelegramPolling | undefined;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await polling?.stop();
  polling = undefined;
  for (const close of closers.splice(0)) await close();
  await tg?.close();
  tg = undefined;
});

/** The bot over a store the test can switch off; pauses are recorded and not waited. */
async function pollingBot(opts: { onPause?: (ms: number) => void; onFatal?: (e: Error) => void }) {
  tg = await startTelegramSandbox({ allowLoopbackHttp: true });
  const seen = observed(openMemoryStore(`polling-${randomUUID()}`));
  const chat = await makeChat(fakeWorld(), { store: seen.store, user: `tg:${PERSON}` });
  closers.push(() => chat.core.close());
  const channel = new TelegramChannel({
    token: tg.token,
    apiRoot: tg.url,
    engine: chat.engine,
    retries: 0,
    ...(opts.onFatal ? { onTokenRefused: opts.onFatal } : {}),
  });
  closers.push(() => channel.stop());
  chat.engine.notifier = channel;
  const pauses: number[] = [];
  polling = new TelegramPolling({
    channel,
    store: seen.store,
    backoffMs: 100,
    maxBackoffMs: 1000,
    pause: async (ms) => {
      pauses.push(ms);
      opts.onPause?.(ms);
      await new Promise((r) => setTimeout(r, 5));
    },
  });
  await polling.start();
  return { seen, pauses, tg };
}

/** Waits until nothing has asked the store anything for a while (the turns in flight ended). */
async function quiet(seen: { total(): number }): Promise<void> {
  for (let last = -1; last !== seen.total(); ) {
    last = seen.total();
    await new Promise((r) => setTimeout(r, 300));
  }
}

const commandsSaid = (tg: TelegramSandbox) =>
  tg.chat(PERSON).bot.filter((m) => /^Commands/.test(m.text ?? "")).length;

/** The log lines written while `fn` runs, parsed. */
function capturedLog(): { msg: string; level: string }[] {
  const lines: { msg: string; level: string }[] = [];
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    for (const line of String(chunk).split("\n").filter(Boolean)) {
      try {
        lines.push(JSON.parse(line) as { msg: string; level: string });
      } catch {
        // not a log line
      }
    }
    return true;
  });
  return lines;
}

describe("Telegram polling when the store is away", () => {
  it("asks again after a growing pause, bounded, and starts over once an update is kept", async () => {
    let comeBackAt = 7;
    const bot = await pollingBot({
      onPause: () => {
        if (bot.pauses.length === comeBackAt) bot.seen.down = false;
      },
    });
    // Polling as usual first: an offset is confirmed, so the next getUpdates would answer at
    // once with an update that couldn't be kept.
    bot.tg.sendText(PERSON, "/help");
    await vi.waitFor(() => expect(commandsSaid(bot.tg)).toBe(1), { timeout: 20_000 });
    await quiet(bot.seen);

    bot.seen.down = true;
    const asked = bot.tg.callsTo("getUpdates").length;
    bot.tg.sendText(PERSON, "/help");
    await vi.waitFor(() => expect(commandsSaid(bot.tg)).toBe(2), { timeout: 20_000 });
    // Seven failed keeps, seven pauses: 100 ms doubling, never past the 1 s bound.
    expect(bot.pauses).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    // Telegram was asked once per attempt, not in a tight loop.
    expect(bot.tg.callsTo("getUpdates").length - asked).toBeLessThanOrEqual(7 + 2);

    // A second outage (once that turn is over) starts from the first pause again.
    await quiet(bot.seen);
    comeBackAt = 9;
    bot.seen.down = true;
    bot.tg.sendText(PERSON, "/help");
    await vi.waitFor(() => expect(commandsSaid(bot.tg)).toBe(3), { timeout: 20_000 });
    expect(bot.pauses.slice(7)).toEqual([100, 200]);
  });
});

describe("Telegram refusing to poll", () => {
  it("stops polling and tells the app once the token is revoked (401), without the token", async () => {
    const log = capturedLog();
    const fatal: Error[] = [];
    const bot = await pollingBot({ onFatal: (e) => fatal.push(e) });
    const old = bot.tg.token;
    bot.tg.revokeToken();
    await vi.waitFor(() => expect(fatal).toHaveLength(1), { timeout: 20_000 });
    expect(fatal[0]).toBeInstanceOf(TelegramTokenRefused);
    expect(fatal[0]!.message).toMatch(/revoked or is wrong.*@BotFather.*TELEGRAM_BOT_TOKEN/);
    expect(fatal[0]!.message).not.toContain(old.split(":")[1]);
    // No getUpdates after the refusal: it would be refused again, forever.
    const asked = bot.tg.callsTo("getUpdates").length;
    await new Promise((r) => setTimeout(r, 200));
    expect(bot.tg.callsTo("getUpdates").length).toBe(asked);
    expect(bot.pauses).toEqual([]);
    expect(log.filter((l) => l.level === "error")).toHaveLength(1);
  });

  it("with a webhook set (409), says so once, and asks again after growing pauses", async () => {
    const log = capturedLog();
    const bot = await pollingBot({});
    const res = await fetch(`${bot.tg.url}/bot${bot.tg.token}/setWebhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: "http://127.0.0.1:9/hook" }),
    });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(bot.pauses.length).toBeGreaterThanOrEqual(6), {
      timeout: 20_000,
    });
    expect(bot.pauses.slice(0, 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
    const errors = log.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/webhook is set.*PUBLIC_URL.*deleteWebhook/);
    expect(log.filter((l) => l.level === "warn")).toEqual([]);

    // Once the webhook is gone, the bot polls again and answers.
    await fetch(`${bot.tg.url}/bot${bot.tg.token}/deleteWebhook`, { method: "POST" });
    bot.tg.sendText(PERSON, "/help");
    await vi.waitFor(() => expect(commandsSaid(bot.tg)).toBe(1), { timeout: 20_000 });
  });

  it("with another process polling (409), says so once and keeps to growing pauses", async () => {
    const log = capturedLog();
    const bot = await pollingBot({});
    // The other process: its getUpdates end ours, and ours end its, as on Telegram.
    const other = new AbortController();
    const url = `${bot.tg.url}/bot${bot.tg.token}/getUpdates`;
    const otherPolls = (async () => {
      while (!other.signal.aborted)
        await fetch(`${url}?timeout=1`, { signal: other.signal })
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
    })();
    await vi.waitFor(() => expect(bot.pauses.length).toBeGreaterThanOrEqual(5), {
      timeout: 20_000,
    });
    other.abort();
    await otherPolls;
    expect(bot.pauses.slice(0, 5)).toEqual([100, 200, 400, 800, 1000]);
    const errors = log.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/another process is polling/);
  });

  it("waits as long as a 429 says when auto-retry gives it back", async () => {
    const bot = await pollingBot({});
    // Past the channel's auto-retry bound (120 s), the 429 reaches the loop.
    bot.tg.failNext("getUpdates", { status: 429, retryAfter: 300 });
    // The poll waiting now ends when the fault's answer comes: nudge it with an update.
    bot.tg.sendText(PERSON, "/help");
    await vi.waitFor(() => expect(bot.pauses).toContain(300_000), { timeout: 20_000 });
  });
});
