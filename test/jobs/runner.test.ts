import { describe, expect, it } from "vitest";
import { JobRunner } from "../../src/jobs/runner.js";
import { openMemoryStore } from "../../src/store/memory-store.js";

describe("job runner: jobs that run again later", () => {
  it("runs a job at its times, and another runner on the same store picks the schedule up", async () => {
    const store = openMemoryStore();
    const runs: number[] = [];
    const handler = {
      kind: "tick",
      async run(job: { data: { n: number } }, control: { save(d: { n: number }): Promise<void> }) {
        runs.push(job.data.n);
        await control.save({ n: job.data.n + 1 });
        return job.data.n < 3 ? { again: Date.now() + 30 } : undefined;
      },
    };
    const first = new JobRunner(store);
    first.register(handler);
    await first.start("tg:1", "tick", "j1", { n: 1 });
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
      async run() {
        runs += 1;
        return { again: Date.now() + 20 };
      },
    });
    await jobs.start("tg:1", "tick", "j1", {});
    await jobs.idle();
    await jobs.cancelAll("tg:1");
    await new Promise((r) => setTimeout(r, 60));
    expect(runs).toBe(1);
    expect(jobs.waiting).toBe(0);
    expect((await jobs.get("j1"))?.status).toBe("cancelled");
  });
});
