/**
 * What one Telegram update costs the store, by polling and by webhook: one person sends N
 * messages, each answered before the next; every store call is counted (a counting proxy),
 * split between the channel's inbox (telegram-*) and the engine. Printed per update, and the
 * channel's share held to a bound so the hot path doesn't grow back (a count, not a time).
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { TelegramChannel } from "../../src/channels/telegram.js";
import { TelegramPolling } from "../../src/channels/telegram-polling.js";
import { TelegramWebhook } from "../../src/channels/telegram-webhook.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";
import { type ObservedStore, observed } from "../helpers/store-ops.js";

const PERSON = 6262;
const N = 20;
let tg: TelegramSandbox | undefined;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await tg?.close();
  tg = undefined;
});

async function setUp() {
  tg = await startTelegramSandbox({ allowLoopbackHttp: true });
  const seen = observed(openMemoryStore(`ops-${randomUUID()}`));
  const chat = await makeChat(fakeWorld(), { store: seen.store, user: `tg:${PERSON}` });
  closers.push(() => chat.core.close());
  const channel = new TelegramChannel({ token: tg.token, apiRoot: tg.url, engine: chat.engine });
  closers.push(() => channel.stop());
  chat.engine.notifier = channel;
  return { seen, channel, tg };
}

const commandsSaid = (tg: TelegramSandbox) =>
  tg.chat(PERSON).bot.filter((m) => /^Commands/.test(m.text ?? "")).length;

/** Waits until nothing has asked the store anything for a while (the turns in flight ended). */
async function quiet(seen: ObservedStore): Promise<void> {
  for (let last = -1; last !== seen.total(); ) {
    last = seen.total();
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** N messages, each answered before the next; the store calls they cost, per update. */
async function perUpdate(seen: ObservedStore, tg: TelegramSandbox) {
  await quiet(seen);
  const before = new Map(seen.ops);
  for (let k = 1; k <= N; k++) {
    tg.sendText(PERSON, "/help");
    await vi.waitFor(() => expect(commandsSaid(tg)).toBe(k), { timeout: 20_000 });
  }
  await quiet(seen);
  const spent = new Map<string, number>();
  for (const [op, n] of seen.ops) {
    const d = n - (before.get(op) ?? 0);
    if (d > 0) spent.set(op, d);
  }
  const channelOps = [...spent].filter(([op]) => /telegram/.test(op));
  const sum = (xs: [string, number][]) => xs.reduce((a, [, n]) => a + n, 0);
  const channel = sum(channelOps) / N;
  const all = sum([...spent]) / N;
  return { channel, all, engine: all - channel, ops: Object.fromEntries(spent) };
}

describe("store calls per Telegram update", () => {
  it("by polling", async () => {
    const { seen, channel } = await setUp();
    const polling = new TelegramPolling({ channel, store: seen.store });
    await polling.start();
    closers.push(() => polling.stop());
    const figures = await perUpdate(seen, tg!);
    console.log("telegram polling: store calls per update", JSON.stringify(figures));
    // Was 14 (the inbox's round trip for every update): now the turn lock and one read. The
    // engine's was 6: the user's lock, the read, the outbox index, the save, the acknowledgement
    // — the index only on the first turn while the user stays in it.
    expect(figures.channel).toBeLessThanOrEqual(3);
    expect(figures.engine).toBeLessThan(6);
  });

  it("by webhook", async () => {
    const { seen, channel } = await setUp();
    const server: Server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (!webhook.route(req, url, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    const { port } = server.address() as AddressInfo;
    const webhook = new TelegramWebhook({
      channel,
      store: seen.store,
      publicUrl: `http://127.0.0.1:${port}`,
      secret: "a-secret-for-the-ops-test-0123456789abcdef",
    });
    await webhook.start();
    closers.push(() => webhook.stop());
    const figures = await perUpdate(seen, tg!);
    console.log("telegram webhook: store calls per update", JSON.stringify(figures));
    expect(figures.channel).toBeLessThanOrEqual(3);
  });
});
