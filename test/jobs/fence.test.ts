/**
 * Two runners on one store, as two processes would be. The first stalls in the
 * middle of a job past its lease (its heartbeat can't renew it); the second takes
 * the job over from the last saved unit. When the first wakes up, its save is
 * refused and it stops: no unit is started by both. Redis and PostgreSQL are the
 * real local servers; down, this fails, never skips.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { JobControl } from "../../src/jobs/queue.js";
import { JobRunner } from "../../src/jobs/runner.js";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";
import { backendUrls, withoutHeartbeat } from "../helpers/backends.js";
import { closedAfterEach } from "../helpers/closing.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-fence-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const opened = closedAfterEach<Store>();
const stopped = closedAfterEach<{ close(): Promise<void> }>();

const backends = backendUrls(dir);

/** A promise with its resolve, to hold a unit of work until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

const Units = z.object({ units: z.number() });
const Next = z.object({ next: z.number() });

/** A job of three units, saving after each; `hold` stops a runner at a unit until opened. */
function unitsJob(who: string, started: string[], hold: Map<number, Promise<void>>) {
  return {
    kind: "units",
    data: Units,
    cursor: Next,
    async run(
      job: { data: { units: number }; cursor?: { next: number } },
      control: JobControl<{ next: number }, never, never>,
    ) {
      for (let i = job.cursor?.next ?? 0; i < job.data.units; i++) {
        started.push(`${who}:${i}`);
        await hold.get(i);
        await control.save({ next: i + 1 });
      }
      return undefined;
    },
  };
}

for (const [name, url] of Object.entries(backends)) {
  describe(name, () => {
    it("a runner whose job was taken over while it stalled cannot save, and stops", async () => {
      const store = opened(await openStore(url()));
      const user = `tg:${randomBytes(4).readUInt32BE()}` as const;
      const id = randomUUID();
      const started: string[] = [];
      const firstStalls = gate();
      const secondWaits = gate();
      const inUnitOne = gate();
      const first = new JobRunner(withoutHeartbeat(store), { leaseMs: 300 });
      first.register(unitsJob("first", started, new Map([[1, firstStalls.opened]])));
      // The second's lease is long: its heartbeat must keep the job through a loaded machine's
      // pauses, or the first could take it back legitimately (the test is about a stale
      // holder's save, not about a lease that ran out).
      const second = new JobRunner(store, { leaseMs: 10_000 });
      const secondHolds = new Map([[2, secondWaits.opened]]);
      const secondJob = unitsJob("second", started, secondHolds);
      second.register({
        ...secondJob,
        run: (job, control) => {
          inUnitOne.open();
          return secondJob.run(job, control);
        },
      });
      // Whatever happens, nothing is left waiting at a gate when the runners stop.
      stopped({
        close: async () => {
          firstStalls.open();
          secondWaits.open();
        },
      });
      stopped({ close: () => first.stop() });
      stopped({ close: () => second.stop() });

      await first.start(user, { kind: "units", id, data: { units: 3 } });
      // The first runner did unit 0 and stalls in unit 1; its lease runs out meanwhile.
      while (!started.includes("first:1")) await sleep(10);
      let taken = false;
      void inUnitOne.opened.then(() => {
        taken = true;
      });
      while (!taken) {
        await second.resumeAll();
        await sleep(50);
      }
      while (!started.includes("second:2")) await sleep(10);

      // The first wakes up while the second is in the middle of the job.
      firstStalls.open();
      await first.idle();
      expect((await second.get(id))?.cursor).toEqual({ next: 2 });
      secondWaits.open();
      await second.idle();

      expect(started).toEqual(["first:0", "first:1", "second:1", "second:2"]);
      expect(await second.get(id)).toMatchObject({ status: "done", cursor: { next: 3 } });
      await second.cancelAll(user, { forget: true });
    });

    it("/cancel in one process stops the job another process runs, and it can't undo that", async () => {
      const store = opened(await openStore(url()));
      const user = `tg:${randomBytes(4).readUInt32BE()}` as const;
      const id = randomUUID();
      const started: string[] = [];
      const stall = gate();
      const running = new JobRunner(store, { leaseMs: 5_000 });
      running.register(unitsJob("running", started, new Map([[1, stall.opened]])));
      const other = new JobRunner(store);
      stopped({ close: async () => stall.open() });
      stopped({ close: () => running.stop() });

      await running.start(user, { kind: "units", id, data: { units: 3 } });
      while (!started.includes("running:1")) await sleep(10);
      await other.cancelAll(user);
      stall.open();
      await running.idle();

      expect(started).toEqual(["running:0", "running:1"]);
      expect(await other.get(id)).toMatchObject({ status: "cancelled", cursor: { next: 1 } });
      await other.cancelAll(user, { forget: true });
      expect(await other.get(id)).toBeUndefined();
    });
  });
}
