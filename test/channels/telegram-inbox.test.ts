/**
 * The promises of Telegram's intake, by polling and by webhook, now that most updates are
 * handled at once instead of going through the inbox: a person's messages are answered in the
 * order they were sent, each once, and a process killed in the middle of a turn loses nothing
 * (Telegram hands the update over again, and the next process answers it — once).
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { TelegramChannel } from "../../src/channels/telegram.js";
import { TelegramPolling } from "../../src/channels/telegram-polling.js";
import { TelegramWebhook } from "../../src/channels/telegram-webhook.js";
import type { UserKey } from "../../src/chat/conversation.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import type { Store } from "../../src/store/store.js";
import { killable } from "../helpers/backends.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";

const PERSON = 7373;
const USER: UserKey = `tg:${PERSON}`;
let tg: TelegramSandbox | undefined;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await tg?.close();
  tg = undefined;
});

/** One bot process over `store`: the engine, the channel, and the update ids it ran turns for. */
async function botProcess(store: Store, closing = closers) {
  const chat = await makeChat(fakeWorld(), { store, user: USER });
  closing.push(() => chat.core.close());
  const channel = new TelegramChannel({ token: tg!.token, apiRoot: tg!.url, engine: chat.engine });
  closing.push(() => channel.stop());
  chat.engine.notifier = channel;
  const received: number[] = [];
  const receive = chat.engine.receive.bind(chat.engine);
  chat.engine.receive = (user, input, deliver, source) => {
    if (source) received.push(Number(source.slice("tg-update:".length)));
    return receive(user, input, deliver, source);
  };
  return { chat, channel, received };
}

/** `closing`: where its stop goes (a killed process is never stopped: it hangs in its turn). */
interface IntakeOptions {
  leaseMs?: number;
  handleAtOnceMs?: number;
}

async function polling(store: Store, opts: IntakeOptions = {}, closing = closers) {
  const bot = await botProcess(store, closing);
  const intake = new TelegramPolling({ channel: bot.channel, store, ...opts });
  await intake.start();
  closing.push(() => intake.stop());
  return bot;
}

async function webhook(store: Store, opts: IntakeOptions = {}) {
  const bot = await botProcess(store);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (!hook.route(req, url, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  const hook = new TelegramWebhook({
    channel: bot.channel,
    store,
    publicUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    secret: "a-secret-for-the-inbox-test-0123456789abcdef",
    ...opts,
  });
  await hook.start();
  closers.push(() => hook.stop());
  return bot;
}

/** The bot's answers, by the message they answer ("You said …" to a text at the welcome). */
const answers = (tg: TelegramSandbox) =>
  tg
    .chat(PERSON)
    .bot.map((m) => m.text ?? "")
    .filter((t) => /^Commands/.test(t));

describe.each([
  ["polling", polling, 2_000],
  ["webhook", webhook, 2_000],
  // Every turn outlasts the time Telegram is kept waiting: each update is kept in the inbox
  // while it is handled, and the ones behind it wait there for their turn.
  ["polling, every turn kept meanwhile", polling, 0],
  ["webhook, every turn kept meanwhile", webhook, 0],
])("Telegram by %s", (_name, start, handleAtOnceMs) => {
  it("answers a burst of one person's messages each once, in the order sent", async () => {
    tg = await startTelegramSandbox({ allowLoopbackHttp: true });
    const store = openMemoryStore(`inbox-${randomUUID()}`);
    const bot = await start(store, { handleAtOnceMs });
    const sent = Array.from({ length: 12 }, () => tg!.sendText(PERSON, "/help"));
    await vi.waitFor(() => expect(answers(tg!)).toHaveLength(sent.length), { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(answers(tg!)).toHaveLength(sent.length);
    // Each turn ran once, oldest first.
    expect(bot.received).toEqual([...bot.received].sort((a, b) => a - b));
    expect(new Set(bot.received).size).toBe(sent.length);
    // Nothing left waiting.
    expect(await store.scored("telegram-inbox-index").upTo("people", Infinity)).toEqual([]);
  });
});

describe("Telegram by polling, a process killed mid-turn", () => {
  /**
   * Process A handles the person's message at once and is killed (SIGKILL: nothing it asks the
   * store comes back) when its turn saves — before the save lands, or just after. Process B,
   * polling next, gets the update again from Telegram and answers it: once.
   */
  it.each([
    ["before its turn was saved", false],
    ["after its turn was saved, before the answer went out", true],
  ])(
    "%s: the next process answers, once",
    async (_when, afterSave) => {
      tg = await startTelegramSandbox();
      const name = `killed-${randomUUID()}`;
      const raw = openMemoryStore(name);
      const a = killable(raw);
      let killed = false;
      const kill = () => {
        killed = true;
        a.kill();
      };
      const store: Store = {
        ...a.store,
        namespace(ns) {
          const inner = a.store.namespace(ns);
          if (ns !== "users") return inner;
          return {
            ...inner,
            get: (k) => inner.get(k),
            set: (k, v, t) => inner.set(k, v, t),
            delete: (k) => inner.delete(k),
            take: (k) => inner.take(k),
            setFenced: async (key, value, fence) => {
              if (afterSave) await raw.namespace(ns).setFenced(key, value, fence);
              kill();
              return new Promise<never>(() => {});
            },
          };
        },
      };
      await polling(store, { leaseMs: 1_000 }, []);
      tg.sendText(PERSON, "/help");
      await vi.waitFor(() => expect(killed).toBe(true), { timeout: 20_000 });
      // A is stuck in its turn, dead: it asks Telegram nothing more. B starts polling.
      const b = await polling(openMemoryStore(name), { leaseMs: 1_000 });
      await vi.waitFor(() => expect(answers(tg!)).toHaveLength(1), { timeout: 40_000 });
      await new Promise((r) => setTimeout(r, 1000));
      expect(answers(tg!)).toHaveLength(1);
      expect(b.received.length).toBeGreaterThanOrEqual(1);
    },
    60_000,
  );
});
