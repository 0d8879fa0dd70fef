/**
 * The one contract every JobQueue keeps, run against the in-process runner and
 * BullMQ alike (contract-rigs.ts): a started job runs and reports to its user's
 * step; a job whose process is killed is finished by another from where it saved,
 * its end reported once; a delay of weeks waits (no timer overflows); /cancel in
 * one process stops a job another runs; two processes never run one unit twice;
 * and a stale run, taken over while it stalled, cannot save. Redis is the real
 * local server: down, this fails, never skips.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { UserKey } from "../../src/chat/conversation.js";
import type { JobReporter } from "../../src/jobs/queue.js";
import type { JobRunner } from "../../src/jobs/runner.js";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";
import { withoutHeartbeat } from "../helpers/backends.js";
import { closedAfterEach } from "../helpers/closing.js";
import { Next, type Opened, rigs, SWEEP_MS, Units, unitsJob } from "./contract-rigs.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-contract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const closed = closedAfterEach<{ close(): Promise<unknown> }>();
const worker = fileURLToPath(new URL("./contract-worker.ts", import.meta.url));

const newUser = (): UserKey => `tg:${randomBytes(4).readUInt32BE()}`;
const shared = () => randomBytes(4).toString("hex");
const DAY_MS = 24 * 3_600_000;

/** Waits (bounded) until `ok` holds; the failure says what was awaited. */
async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await sleep(20);
  }
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** A reporter as the engine is to jobs: it takes every report, and keeps them. */
function reporter(): JobReporter & { seen: { user: UserKey; input: unknown }[] } {
  const seen: { user: UserKey; input: unknown }[] = [];
  return {
    seen,
    report: async (user, input) => {
      seen.push({ user, input });
      return "taken";
    },
    wants: async () => true,
  };
}

for (const [name, rig] of Object.entries(rigs)) {
  describe(`job queue contract: ${name}`, () => {
    /** A store and a queue on it, closed after the test (queue first). */
    async function open(
      url: string,
      work: string,
      opts: { leaseMs?: number; store?: (s: Store) => Store } = {},
    ) {
      const store = await openStore(url);
      const queue: Opened = await rig.open(opts.store ? opts.store(store) : store, work, {
        leaseMs: opts.leaseMs ?? 5_000,
      });
      closed({
        close: async () => {
          await queue.close();
          await store.close();
        },
      });
      kept.set(queue.jobs, queue.kept);
      return queue.jobs;
    }
    const kept = new Map<JobRunner, Opened["kept"]>();
    /** What the queue keeps about a job beside its record. */
    const keptFor = (jobs: JobRunner, id: string) => kept.get(jobs)?.(id) ?? Promise.resolve([]);

    const recordOf = (jobs: JobRunner, id: string) => jobs.get(id);

    it("a started job runs to its end and reports it to the user's step", async () => {
      const jobs = await open(rig.storeUrl(dir), shared());
      const ran: number[] = [];
      jobs.register(unitsJob((i) => void ran.push(i)));
      const seen = reporter();
      jobs.reporter = seen;
      await jobs.startSweeping();
      const user = newUser();
      const id = randomUUID();
      await jobs.start(user, { kind: "units", id, data: { units: 3 } });
      await until("the job done", async () => (await recordOf(jobs, id))?.status === "done");
      expect(ran).toEqual([0, 1, 2]);
      expect(await jobs.progress(id)).toBeUndefined();
      expect((await recordOf(jobs, id))?.cursor).toEqual({ next: 3 });
      expect(seen.seen).toEqual([
        { user, input: { kind: "job", job: "units", id, event: "finished", units: 3 } },
      ]);
      // A finished job leaves no note of its runs behind.
      await until("nothing kept of its runs", async () => (await keptFor(jobs, id)).length === 0);
      await jobs.cancelAll(user, { forget: true });
    });

    it("a job whose process is killed (SIGKILL) is finished by another from where it saved, its end reported once", async () => {
      const url = rig.storeUrl(dir);
      const work = shared();
      const user = newUser();
      const id = randomUUID();
      const child = spawn(
        process.execPath,
        ["--import", "tsx", worker, name, url, work, id, user],
        { stdio: ["pipe", "pipe", "pipe"] },
      ) as ChildProcessWithoutNullStreams;
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => {
        out += String(d);
      });
      child.stderr.on("data", (d) => {
        err += String(d);
      });
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      closed({
        close: async () => {
          child.kill("SIGKILL");
          await exited;
        },
      });
      await until(`the child in unit 1 (stderr: ${err})`, () => out.includes("unit 1"), 30_000);
      child.kill("SIGKILL");
      await exited;

      const jobs = await open(url, work);
      const ran: number[] = [];
      jobs.register(unitsJob((i) => void ran.push(i)));
      const seen = reporter();
      jobs.reporter = seen;
      await jobs.startSweeping();
      await until("the job done here", async () => (await recordOf(jobs, id))?.status === "done");

      expect(out).toBe("unit 0\nunit 1\n");
      expect(ran).toEqual([1, 2]);
      expect(
        seen.seen.filter((r) => (r.input as { event?: string }).event === "finished"),
      ).toHaveLength(1);
      await jobs.cancelAll(user, { forget: true });
    });

    it("a run asked for in 30 days waits for it, here and after a restart, on no overflowing timer", async () => {
      const url = rig.storeUrl(dir);
      const work = shared();
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.name);
      process.on("warning", onWarning);
      try {
        let runs = 0;
        const later = {
          kind: "later",
          data: Units,
          cursor: Next.nullable(),
          async run() {
            runs += 1;
            return { again: Date.now() + 30 * DAY_MS };
          },
        };
        const first = await open(url, work);
        first.register(later);
        await first.startSweeping();
        const user = newUser();
        const id = randomUUID();
        await first.start(user, { kind: "later", id, data: { units: 1 } });
        await until(
          "the next run set",
          async () => (await recordOf(first, id))?.dueAt !== undefined,
        );
        const dueAt = (await recordOf(first, id))?.dueAt ?? 0;
        expect(dueAt).toBeGreaterThan(Date.now() + 29 * DAY_MS);
        await until("the run waiting", async () => (await first.scheduledAt(id)) !== undefined);
        expect(Math.abs(((await first.scheduledAt(id)) ?? 0) - dueAt)).toBeLessThan(1_000);

        // Another process starting on the same state waits for it too.
        const second = await open(url, work);
        second.register(later);
        await second.startSweeping();
        await sleep(600); // three sweeps of each
        expect(runs).toBe(1);
        expect((await recordOf(second, id))?.dueAt).toBe(dueAt);
        expect(warnings).not.toContain("TimeoutOverflowWarning");
        await first.cancelAll(user, { forget: true });
      } finally {
        process.off("warning", onWarning);
      }
    });

    it("/cancel in one process stops the job another runs and the one waiting for later", async () => {
      const url = rig.storeUrl(dir);
      const work = shared();
      const stall = gate();
      closed({ close: async () => stall.open() });
      const running = await open(url, work);
      const ran: number[] = [];
      running.register(
        unitsJob(async (i) => {
          ran.push(i);
          if (i === 1) await stall.opened;
        }),
      );
      running.register({
        kind: "later",
        data: Units,
        cursor: Next.nullable(),
        run: async () => ({ again: Date.now() + 3_600_000 }),
      });
      running.reporter = reporter();
      await running.startSweeping();
      const user = newUser();
      const id = randomUUID();
      const waiting = randomUUID();
      await running.start(user, { kind: "units", id, data: { units: 3 } });
      await running.start(user, { kind: "later", id: waiting, data: { units: 1 } });
      await until("unit 1 under way", () => ran.includes(1));
      await until(
        "the later run set",
        async () => (await recordOf(running, waiting))?.dueAt !== undefined,
      );

      const other = await open(url, work);
      await other.cancelAll(user);
      stall.open();
      await sleep(300);
      expect(ran).toEqual([0, 1]);
      expect(await recordOf(other, id)).toMatchObject({ status: "cancelled", cursor: { next: 1 } });
      expect((await recordOf(other, waiting))?.status).toBe("cancelled");
      await other.cancelAll(user, { forget: true });
      expect(await recordOf(other, id)).toBeUndefined();
      expect(await recordOf(other, waiting)).toBeUndefined();
    });

    /** A job that asks to run again in an hour, each time it runs. */
    const hourly = {
      kind: "later",
      data: Units,
      cursor: Next.nullable(),
      run: async () => ({ again: Date.now() + 3_600_000 }),
    };

    it("a job cancelled while its next run waits for later leaves nothing due", async () => {
      const jobs = await open(rig.storeUrl(dir), shared());
      jobs.register(hourly);
      jobs.reporter = reporter();
      await jobs.startSweeping();
      const user = newUser();
      const id = randomUUID();
      await jobs.start(user, { kind: "later", id, data: { units: 1 } });
      await until("its next run queued for later", async () =>
        (await jobs.queuedRuns(id)).some((at) => at > Date.now() + 3_000_000),
      );
      await jobs.cancelAll(user);
      expect(await jobs.queuedRuns(id)).toEqual([]);
      expect((await recordOf(jobs, id))?.status).toBe("cancelled");
    });

    /** An hourly job started where no process sweeps, once its first run is queued. */
    async function hourlyQueuedUnswept() {
      const jobs = await open(rig.storeUrl(dir), shared());
      jobs.register(hourly);
      jobs.reporter = reporter();
      const user = newUser();
      const id = randomUUID();
      await jobs.start(user, { kind: "later", id, data: { units: 1 } });
      await until("a run queued", async () => (await jobs.queuedRuns(id)).length > 0);
      return { jobs, user, id };
    }

    it("a job cancelled before any process took its run leaves nothing due", async () => {
      // No process takes work (none sweeps): the run waits in the queue, or here on a timer.
      const { jobs, user, id } = await hourlyQueuedUnswept();
      await jobs.cancelAll(user, { forget: true });
      expect(await jobs.queuedRuns(id)).toEqual([]);
      expect(await recordOf(jobs, id)).toBeUndefined();
    });

    it("a job cancelled long after a sweep queued its run (a backed-up queue) leaves nothing queued", async () => {
      // No process takes work: its runs wait in the queue, as behind thousands of others.
      const { jobs, user, id } = await hourlyQueuedUnswept();
      // What each sweep does: the job is due and nobody runs it, so it is queued (again).
      await jobs.resumeAll(0);
      await jobs.idle();
      // Many sweep periods later, the queue still hasn't reached it.
      await sleep(10 * SWEEP_MS);
      await jobs.resumeAll(0);
      await jobs.idle();
      await jobs.cancelAll(user);
      expect(await jobs.queuedRuns(id)).toEqual([]);
      expect((await recordOf(jobs, id))?.status).toBe("cancelled");
      expect(await keptFor(jobs, id)).toEqual([]);
      await jobs.cancelAll(user, { forget: true });
    });

    it("two processes taking work from one store run each unit of a job once", async () => {
      const url = rig.storeUrl(dir);
      const work = shared();
      const ran: string[] = [];
      const a = await open(url, work);
      const b = await open(url, work);
      for (const [who, jobs] of [
        ["a", a],
        ["b", b],
      ] as const) {
        jobs.register(
          unitsJob(async (i) => {
            ran.push(`${i}`);
            await sleep(30);
          }),
        );
        jobs.reporter = reporter();
        void who;
      }
      await a.startSweeping();
      await b.startSweeping();
      const user = newUser();
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of ids)
        await (ids.indexOf(id) % 2 ? a : b).start(user, { kind: "units", id, data: { units: 4 } });
      await until("every job done", async () => {
        const records = await Promise.all(ids.map((id) => recordOf(a, id)));
        return records.every((r) => r?.status === "done");
      });
      expect(ran.toSorted()).toEqual(["0", "0", "0", "1", "1", "1", "2", "2", "2", "3", "3", "3"]);
      await a.cancelAll(user, { forget: true });
    });

    it("a run taken over while it stalled (its lease lost) cannot save, and stops", async () => {
      const url = rig.storeUrl(dir);
      const work = shared();
      const ran: string[] = [];
      const stall = gate();
      closed({ close: async () => stall.open() });
      const stale = await open(url, work, { leaseMs: 300, store: withoutHeartbeat });
      stale.register(
        unitsJob(async (i) => {
          ran.push(`stale:${i}`);
          if (i === 1) await stall.opened;
        }),
      );
      stale.reporter = reporter();
      await stale.startSweeping();
      const user = newUser();
      const id = randomUUID();
      await stale.start(user, { kind: "units", id, data: { units: 3 } });
      await until("the stale run in unit 1", () => ran.includes("stale:1"));

      const fresh = await open(url, work, { leaseMs: 300 });
      const holdTwo = gate();
      closed({ close: async () => holdTwo.open() });
      fresh.register(
        unitsJob(async (i) => {
          ran.push(`fresh:${i}`);
          if (i === 2) await holdTwo.opened;
        }),
      );
      fresh.reporter = reporter();
      await fresh.startSweeping();
      await until("the job taken over", () => ran.includes("fresh:2"));
      // The stale run wakes up in the middle of the other's work: its save is refused.
      stall.open();
      await sleep(300);
      expect((await recordOf(fresh, id))?.cursor).toEqual({ next: 2 });
      holdTwo.open();
      await until("the job done", async () => (await recordOf(fresh, id))?.status === "done");
      expect(ran).toEqual(["stale:0", "stale:1", "fresh:1", "fresh:2"]);
      await fresh.cancelAll(user, { forget: true });
    });
  });
}
