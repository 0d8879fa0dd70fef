/**
 * A store written before each job had its own place in the scored sets: unfinished
 * jobs listed in one JSON list ("job-index"/"active"), each user's in another
 * ("user-jobs"/<user>). A runner that starts on it moves them over once, resumes
 * what was unfinished, and /forget still finds every record a user had.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { JobRunner } from "../../src/jobs/runner.js";
import { openMemoryStore } from "../../src/store/memory-store.js";

const handler = (runs: string[]) => ({
  kind: "tick",
  data: z.object({}),
  cursor: z.null(),
  async run(job: { id: string }) {
    runs.push(job.id);
    return undefined;
  },
});

const record = (id: string, user: string, status: string, dueAt?: number) => ({
  id,
  user,
  kind: "tick",
  status,
  data: {},
  updatedAt: Date.now() - 60_000,
  ...(dueAt === undefined ? {} : { dueAt }),
});

describe("jobs stored before the scored sets", () => {
  it("are moved over once: the unfinished resume, the waiting wait, the old lists are gone", async () => {
    const store = openMemoryStore();
    const jobs = store.namespace("jobs");
    await jobs.set("now", record("now", "tg:1", "running"));
    await jobs.set("later", record("later", "tg:1", "running", Date.now() + 3_600_000));
    await jobs.set("old", record("old", "tg:1", "done"));
    await store.namespace("job-index").set("active", ["now", "later", "gone"]);
    await store.namespace("user-jobs").set("tg:1", ["now", "later", "old"]);

    const runs: string[] = [];
    const runner = new JobRunner(store);
    runner.register(handler(runs));
    try {
      await runner.resumeAll();
      await runner.idle();
      expect(runs).toEqual(["now"]);
      expect(runner.waiting).toBe(1);
      expect(await store.namespace("job-index").get("active")).toBeUndefined();
      expect(await store.namespace("user-jobs").get("tg:1")).toBeUndefined();
      expect(await store.scored("jobs").upTo("due", Number.POSITIVE_INFINITY)).toEqual(["later"]);

      // A second process starting later finds nothing left to move and the same schedule.
      const again = new JobRunner(store);
      again.register(handler(runs));
      await again.resumeAll();
      await again.idle();
      expect(runs).toEqual(["now"]);
      await again.stop();
    } finally {
      await runner.stop();
    }
  });

  it("/forget finds the records in a user's old list even when none was unfinished", async () => {
    const store = openMemoryStore();
    const jobs = store.namespace("jobs");
    await jobs.set("a", record("a", "tg:2", "done"));
    await jobs.set("b", record("b", "tg:2", "failed"));
    await jobs.set("c", record("c", "tg:3", "done"));
    await store.namespace("user-jobs").set("tg:2", ["a", "b"]);

    const runner = new JobRunner(store);
    await runner.resumeAll();
    await runner.cancelAll("tg:2", { forget: true });
    expect(await jobs.get("a")).toBeUndefined();
    expect(await jobs.get("b")).toBeUndefined();
    expect(await jobs.get("c")).toBeDefined();
    expect(await store.namespace("user-jobs").get("tg:2")).toBeUndefined();
    expect(await store.scored("jobs").upTo("user:tg:2", Number.POSITIVE_INFINITY)).toEqual([]);
  });
});
