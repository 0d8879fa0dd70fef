/**
 * BullMQ's Redis going away and coming back (QUEUE_URL through a relay the test cuts):
 * the queue says it is down meanwhile (what /healthz reports), and once Redis is back
 * its worker takes work again, with nothing restarted.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { describe, expect, it } from "vitest";
import type { UserKey } from "../../src/chat/conversation.js";
import { BullJobQueue } from "../../src/jobs/bullmq-queue.js";
import { openStore } from "../../src/store/open-store.js";
import { openQueueConnection } from "../../src/store/queue-connection.js";
import { REDIS_URL } from "../helpers/backends.js";
import { closedAfterEach } from "../helpers/closing.js";
import { redisRelay } from "../helpers/redis-relay.js";
import { unitsJob } from "./contract-rigs.js";

const closed = closedAfterEach<{ close(): Promise<unknown> }>();

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await sleep(50);
  }
}

const answers = (check: () => Promise<void>) =>
  check().then(
    () => true,
    () => false,
  );

describe("BullMQ's Redis lost and back", () => {
  it("the queue reports it down, then its worker takes work again", async () => {
    const relay = await redisRelay();
    closed({ close: () => relay.cut() });
    const store = await openStore(REDIS_URL);
    const connection = await openQueueConnection(`redis://127.0.0.1:${relay.port}`);
    const name = `reconnect-${randomBytes(4).toString("hex")}`;
    const jobs = new BullJobQueue(store, connection, {
      name,
      leaseMs: 5_000,
      sweepMs: 200,
      lockMs: 1_000,
      stalledMs: 500,
    });
    closed({
      close: async () => {
        await jobs.stop();
        const direct = await openQueueConnection(REDIS_URL);
        const queue = new Queue(name, { connection: direct.client });
        await queue.obliterate({ force: true });
        await queue.close();
        await direct.close();
        await connection.close();
        await store.close();
      },
    });
    jobs.register(unitsJob(() => {}));
    jobs.reporter = { report: async () => "taken", wants: async () => true };
    await jobs.startSweeping();
    const user: UserKey = `tg:${randomBytes(4).readUInt32BE()}`;
    const run = async () => {
      const id = randomUUID();
      await jobs.start(user, { kind: "units", id, data: { units: 2 } });
      await until("the job done", async () => (await jobs.get(id))?.status === "done");
    };
    await run();
    expect(await answers(() => jobs.check())).toBe(true);

    await relay.cut();
    await until("the queue down", async () => !(await answers(() => jobs.check())));
    await relay.restore();
    await until("the queue back", () => answers(() => jobs.check()));
    await run();
    await jobs.cancelAll(user, { forget: true });
  }, 60_000);
});
