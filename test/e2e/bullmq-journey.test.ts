/**
 * The whole app on BullMQ: two real bot processes behind a round-robin balancer (Telegram
 * by webhook), their jobs shared through BullMQ, walking Ada's journey from /start to the
 * end of the transfer against the stand-ins. The snapshot, the follow import and the watch
 * each run as BullMQ jobs; the process running the import is killed (SIGKILL) half-way
 * and another takes it over from where it saved: every account followed, one report.
 * Once with the state on Redis too (STORE_URL), once with it on PostgreSQL (QUEUE_URL).
 * Each uses a Redis database (and a PostgreSQL database) of its own, emptied first.
 */
import { randomBytes } from "node:crypto";
import { createClient } from "@keyv/redis";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramSandbox } from "../../sandbox/telegram.js";
import { openStore } from "../../src/store/open-store.js";
import { closedAfterEach } from "../helpers/closing.js";
import { startMoveWorld } from "../helpers/worlds.js";
import {
  allHealthy,
  type Balancer,
  type Bot,
  freePort,
  killAll,
  roundRobin,
  startBot,
  until,
} from "./bots.js";
import { telegramPerson, toMove, toPreview, toSignIn } from "./journey.js";
import type { Proc } from "./process.js";

const USER = 6161;
const FOLLOW_DOMAINS = ["one.example", "two.example"];
const QUEUE = "fedimove-jobs";
const PG_ADMIN = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const procs: Proc[] = [];
const closed = closedAfterEach<{ close(): Promise<unknown> }>();
afterEach(() => killAll(procs));

/** Empties this test's own Redis database. */
async function freshRedis(db: number): Promise<string> {
  const url = `redis://127.0.0.1:6379/${db}`;
  const redis = createClient({ url });
  await redis.connect();
  await redis.flushDb();
  await redis.close();
  return url;
}

/** This test's own PostgreSQL database, created anew. */
async function freshPostgres(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return url.toString();
}

/** What BullMQ's event stream says each run did: [BullMQ job id, event] in order. */
async function queueEvents(queueUrl: string): Promise<[string, string][]> {
  const redis = createClient({ url: queueUrl });
  await redis.connect();
  try {
    const entries = await redis.xRange(`bull:${QUEUE}:events`, "-", "+");
    return entries.flatMap(({ message }) =>
      message.jobId && message.event ? [[message.jobId, message.event] as [string, string]] : [],
    );
  } finally {
    await redis.close();
  }
}

/** Which process runs a job of this kind now, by its /metrics. */
async function running(bots: readonly Bot[], kind: string): Promise<Bot | undefined> {
  for (const bot of bots) {
    const text = await fetch(`http://127.0.0.1:${bot.port}/metrics`).then(
      (r) => r.text(),
      () => "",
    );
    if (new RegExp(`^fedimove_jobs_running\\{kind="${kind}"\\} [1-9]`, "m").test(text)) return bot;
  }
  return undefined;
}

const setups = {
  "state and jobs on Redis (STORE_URL)": async () => {
    const url = await freshRedis(11);
    return { env: { STORE_URL: url }, storeUrl: url, queueUrl: url };
  },
  "state on PostgreSQL, jobs on Redis (QUEUE_URL)": async () => {
    const storeUrl = await freshPostgres("fedimove_e2e_bullmq");
    const queueUrl = await freshRedis(12);
    return { env: { STORE_URL: storeUrl, QUEUE_URL: queueUrl }, storeUrl, queueUrl };
  },
};

describe("the journey on BullMQ, two processes", () => {
  for (const [name, setup] of Object.entries(setups)) {
    it(`${name}: snapshot, import and watch run as BullMQ jobs; an import whose process is killed is finished by another`, {
      timeout: 150_000,
    }, async () => {
      const { env: backend, storeUrl, queueUrl } = await setup();
      const w = await startMoveWorld();
      closed(w);
      const follows = w.old.seedFollows("ada", 20, { domains: FOLLOW_DOMAINS });
      for (const f of follows) w.mb.addRemote(f.targetAcct, { exists: true });
      for (const d of FOLLOW_DOMAINS) w.origins[d] = w.old.url;
      const tg = await startTelegramSandbox({ allowLoopbackHttp: true });
      closed(tg);
      const ports = [await freePort(), await freePort()];
      const lb: Balancer = await roundRobin(ports);
      closed(lb);
      const env = {
        ...w.env,
        SANDBOX_ORIGINS: JSON.stringify(w.origins),
        ...backend,
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.url,
        PUBLIC_URL: lb.url,
        FEDIMOVE_SECRET: randomBytes(24).toString("base64url"),
        HTTP_TIMEOUT_MS: "5000",
        // A dead process's job is taken over within seconds, not the default 15 s.
        JOB_LEASE_MS: "2000",
        WATCH_POLL_EARLY_MS: "150",
        WATCH_EARLY_FOR_MS: "0",
        WATCH_POLL_LATE_MS: "150",
        WATCH_SETTLE_MS: "1500",
        WATCH_BUDGET_PER_HOUR: "1000000",
      };
      const bots: Bot[] = [];
      for (const port of ports) {
        const bot = await startBot({ ...env, PORT: String(port) });
        bots.push(bot);
        procs.push(bot);
      }
      const live = () => bots.filter((b) => b.child.exitCode === null && !b.child.signalCode);
      await until(
        "both processes up and the webhook set",
        async () =>
          (await allHealthy(ports)) && tg.callsTo("setWebhook").filter((c) => c.ok).length >= 2,
        { bots },
      );

      const ada = telegramPerson(tg, USER, bots);
      const { url } = await toSignIn(ada);
      ada.send(w.old.authorize("ada", url!).code);
      const preview = await toPreview(ada, w);
      w.mb.addAlias("ada", w.old.actorUri("ada"));
      // Slow enough that the import is still under way when its process is killed.
      w.mb.setLatency(250);
      ada.press(preview, "Follow them, then move");

      let victim: Bot | undefined;
      await until(
        "the import under way in one process, some accounts followed",
        async () => {
          victim = await running(live(), "import-follows");
          return victim !== undefined && w.mb.followingOf("ada").length >= 3;
        },
        { bots },
      );
      const followedBefore = w.mb.followingOf("ada").length;
      victim!.child.kill("SIGKILL");
      await victim!.exited;
      expect(followedBefore).toBeLessThan(20);
      // A process started in its place behind the balancer (the survivor may take the job first).
      const replacement = await startBot({ ...env, PORT: String(victim!.port) });
      bots.push(replacement);
      procs.push(replacement);

      await ada.says(/^Done: 20 followed\./, 60_000);
      w.mb.setLatency(0);
      expect(new Set(w.mb.followingOf("ada")).size).toBe(20);
      await toMove(ada, w);
      await ada.says(/^Your move is finished/, 60_000);

      const all = tg.chat(USER).bot.map((m) => m.text ?? "");
      expect(all.filter((t) => /^Done: 20 followed\./.test(t))).toHaveLength(1);
      expect(all.filter((t) => /^Your move is finished/.test(t))).toHaveLength(1);

      // Every job went through BullMQ: the kinds of the jobs its runs named.
      const events = await queueEvents(queueUrl);
      const store = await openStore(storeUrl);
      closed(store);
      const kindOf = new Map<string, string>();
      for (const [jobId] of events) {
        const id = jobId.slice(0, jobId.indexOf("@"));
        if (kindOf.has(id)) continue;
        const record = (await store.namespace("jobs").get(id)) as { kind?: string } | undefined;
        kindOf.set(id, record?.kind ?? "?");
      }
      const completed = new Set(
        events.filter(([, e]) => e === "completed").map(([j]) => kindOf.get(j.split("@")[0]!)),
      );
      expect([...completed]).toEqual(
        expect.arrayContaining(["snapshot", "import-follows", "watch"]),
      );
      // The import was taken by a worker more than once: before the kill, and the takeover.
      const importRuns = events.filter(
        ([j, e]) => e === "active" && kindOf.get(j.split("@")[0]!) === "import-follows",
      );
      expect(importRuns.length).toBeGreaterThanOrEqual(2);
      expect(live()).toHaveLength(2);
    });
  }
});
