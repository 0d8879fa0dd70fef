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
