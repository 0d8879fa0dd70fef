/**
 * /healthz of a real bot process whose jobs go through BullMQ on another Redis than its
 * state (QUEUE_URL): when that Redis can't be reached, the answer is 503 and names the
 * queue, not the store, and says nothing of where it is; once it is back, 200 again.
 * The Redis sits behind a TCP relay the test cuts and restores.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { type Relay, redisRelay } from "../helpers/redis-relay.js";
import { freePort, health, killAll, startBot, until } from "./bots.js";
import type { Proc } from "./process.js";

/** This test's own Redis database: nothing else runs jobs there. */
const QUEUE_DB = 14;

const procs: Proc[] = [];
let tg: TelegramSandbox | undefined;
let relay: Relay | undefined;

afterEach(async () => {
  await killAll(procs);
  await tg?.close();
  await relay?.cut();
});

describe("/healthz with the job queue's own Redis", () => {
  it("is 503 naming the queue while BullMQ's Redis is unreachable, 200 once it is back", {
    timeout: 60_000,
  }, async () => {
    tg = await startTelegramSandbox();
    relay = await redisRelay();
    const port = await freePort();
    const bot = await startBot({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.url,
      TELEGRAM_WEBHOOK: "false",
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      PORT: String(port),
      // The state in SQLite (DATA_DIR), the jobs on Redis: the two can fail apart.
      QUEUE_URL: `redis://127.0.0.1:${relay.port}/${QUEUE_DB}`,
    });
    procs.push(bot);
    const bots = [bot];
    await until("healthy", async () => (await health(port))?.status === 200, { bots });
    expect((await health(port))?.body).toEqual({ store: "ok", queue: "ok" });

    await relay.cut();
    await until(
      "503 with the queue's Redis cut",
      async () => (await health(port))?.status === 503,
      {
        bots,
      },
    );
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ store: "ok", queue: "unreachable" });
    // Where the queue is (address, port, database) is the operator's, not the web's.
    expect(text).not.toMatch(/redis|127\.0\.0\.1|6379/);
    expect(text).not.toContain(String(relay.port));

    await relay.restore();
    await until("healthy again", async () => (await health(port))?.status === 200, {
      bots,
      ms: 20_000,
    });
    expect((await health(port))?.body).toEqual({ store: "ok", queue: "ok" });
    expect(bot.child.exitCode).toBeNull();
  });
});
