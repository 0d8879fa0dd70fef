import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { JobControl } from "../../src/jobs/queue.js";
import { JobRunner } from "../../src/jobs/runner.js";
import { openMemoryStore } from "../../src/store/memory-store.js";

const Tick = z.object({ n: z.number() });

describe("job runner: jobs that run again later", () => {
  it("runs a job at its times, and another runner on the same store picks the schedule up", async () => {
    const store = openMemoryStore();
    const runs: number[] = [];
    const handler = {
      kind: "tick",
      data: Tick,
      cursor: Tick,
      async run(
        job: { data: { n: number }; cursor?: { n: number } },
        control: JobControl<{ n: number }, never, never>,
      ) {
        const n = job.cursor?.n ?? job.data.n;
        runs.push(n);
        await control.save({ n: n + 1 });
        return n < 3 ? { again: Date.now() + 30 } : undefined;
      },
    };
    const first = new JobRunner(store);
    first.register(handler);
    await first.start("tg:1", { kind: "tick", id: "j1", data: { n: 1 } });
    await first.idle();
    expect(runs).toEqual([1]);
    expect(first.waiting).toBe(1);
    await first.stop(); // a restart: the schedule lives in the store

    const second = new JobRunner(store);
    second.register(handler);
    await second.resumeAll();
    await second.idle({ scheduled: true });
    expect(runs).toEqual([1, 2, 3]);
    expect((await second.get("j1"))?.status).toBe("done");
  });

  it("/cancel clears a waiting job, here and in the store", async () => {
    const store = openMemoryStore();
    const jobs = new JobRunner(store);
    let runs = 0;
    jobs.register({
      kind: "tick",
      data: z.object({}),
      cursor: z.null(),
      async run() {
        runs += 1;
        return { again: Date.now() + 20 };
      },
    });
    await jobs.start("tg:1", { kind: "tick", id: "j1", data: {} });
    await jobs.idle();
    await jobs.cancelAll("tg:1");
    await new Promise((r) => setTimeout(r, 60));
    expect(runs).toBe(1);
    expect(jobs.waiting).toBe(0);
    expect((await jobs.get("j1"))?.status).toBe("cancelled");
  });
});

describe("job runner: a kind's concurrency", () => {
  it("five runs due at once of a kind allowed two at a time: never more than two run, all finish", async () => {
    const store = openMemoryStore();
    const jobs = new JobRunner(store);
    let now = 0;
    let most = 0;
    const ended: string[] = [];
    jobs.register({
      kind: "poll",
      concurrency: 2,
      data: z.object({}),
      cursor: z.null(),
      async run(job: { id: string }) {
        now += 1;
        most = Math.max(most, now);
        await new Promise((r) => setTimeout(r, 10));
        now -= 1;
        ended.push(job.id);
        return undefined;
      },
    });
    const ids = ["a", "b", "c", "d", "e"];
    for (const id of ids) await jobs.start("tg:1", { kind: "poll", id, data: {} });
    await jobs.idle();
    expect(ended.toSorted()).toEqual(ids);
    expect(most).toBe(2);
    for (const id of ids) expect((await jobs.get(id))?.status).toBe("done");
  });

  it("/cancel while runs wait their turn: the waiting ones never run, and the turns aren't lost", async () => {
    const store = openMemoryStore();
    const jobs = new JobRunner(store);
    const ran: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    jobs.register({
      kind: "poll",
      concurrency: 1,
      data: z.object({}),
      cursor: z.null(),
      async run(job: { id: string }) {
        ran.push(job.id);
        if (job.id === "first") await held;
        return undefined;
      },
    });
    await jobs.start("tg:1", { kind: "poll", id: "first", data: {} });
    await jobs.start("tg:2", { kind: "poll", id: "waiting", data: {} });
    await jobs.cancelAll("tg:2");
    release();
    await jobs.idle();
    await jobs.start("tg:3", { kind: "poll", id: "after", data: {} });
    await jobs.idle();
    expect(ran).toEqual(["first", "after"]);
    expect((await jobs.get("waiting"))?.status).toBe("cancelled");
  });
});

describe("job runner: what it won't trust", () => {
  it("a record whose data doesn't fit its kind fails, set aside, without running", async () => {
    const store = openMemoryStore();
    const jobs = new JobRunner(store);
    let runs = 0;
    jobs.register({
      kind: "tick",
      data: Tick,
      cursor: z.null(),
      async run() {
        runs += 1;
        return undefined;
      },
    });
    await jobs.start("tg:1", { kind: "tick", id: "j1", data: { n: "one" } });
    await jobs.idle();
    expect(runs).toBe(0);
    expect((await jobs.get("j1"))?.status).toBe("failed");
    expect(await store.namespace("unreadable").get("jobs:j1")).toMatchObject([
      { value: { id: "j1", data: { n: "one" } } },
    ]);
  });

  it("a job due in 40 days waits: a timer longer than Node's limit doesn't fire at once", async () => {
    const store = openMemoryStore();
    const jobs = new JobRunner(store);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    let runs = 0;
    jobs.register({
      kind: "later",
      data: z.object({}),
      cursor: z.null(),
      async run() {
        runs += 1;
        return { again: Date.now() + 40 * 24 * 3_600_000 };
      },
    });
    try {
      await jobs.start("tg:1", { kind: "later", id: "j1", data: {} });
      await jobs.idle();
      await new Promise((r) => setTimeout(r, 100));
      expect(runs).toBe(1);
      expect(jobs.waiting).toBe(1);
      expect(warnings).not.toContain("TimeoutOverflowWarning");
    } finally {
      process.off("warning", onWarning);
      await jobs.stop();
    }
  });
});

describe("job runner: jobs prepared by a turn", () => {
  function counting(runs: string[]) {
    return {
      kind: "tick",
      data: z.object({}),
      cursor: z.null(),
      async run(job: { id: string }) {
        runs.push(job.id);
        return undefined;
      },
    };
  }

  it("a prepared job does not run until begun", async () => {
    const store = openMemoryStore();
    const jobs = new JobRunner(store, { pendingMs: 60_000 });
    const runs: string[] = [];
    jobs.register(counting(runs));
    await jobs.prepare("tg:1", { kind: "tick", id: "j1", data: {} });
    await jobs.resumeAll();
    await jobs.idle();
    expect(runs).toEqual([]);
    expect((await jobs.get("j1"))?.status).toBe("pending");
    await jobs.begin("j1");
    await jobs.idle();
    expect(runs).toEqual(["j1"]);
    expect((await jobs.get("j1"))?.status).toBe("done");
  });

  it("the sweep discards a job whose turn never saved the state naming it, and begins one whose turn did", async () => {
    const store = openMemoryStore();
    const jobs = new JobRunner(store, { pendingMs: 0 });
    const runs: string[] = [];
    jobs.register(counting(runs));
    jobs.reporter = {
      report: async () => "stale",
      // As the engine answers: the saved state waits for "saved" only.
      wants: async (_user, id) => id === "saved",
    };
    await jobs.prepare("tg:1", { kind: "tick", id: "unsaved", data: {} });
    await jobs.prepare("tg:1", { kind: "tick", id: "saved", data: {} });
    await jobs.resumeAll();
    await jobs.idle();
    expect(runs).toEqual(["saved"]);
    expect(await jobs.get("unsaved")).toBeUndefined();
    expect((await jobs.get("saved"))?.status).toBe("done");
    expect(await store.scored("jobs").upTo("due", Number.POSITIVE_INFINITY)).toEqual([]);
  });
});
