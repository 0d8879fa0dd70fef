/**
 * The two JobQueue implementations as the contract suite (contract.test.ts) and its
 * child process (contract-worker.ts) open them: the in-process runner on a SQLite
 * file (what one process uses, and what two processes on one machine share), and
 * BullMQ on the real local Redis, its state on Redis too. Timings are shortened so
 * a dead process's job is taken over within a second or two.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Queue } from "bullmq";
import { z } from "zod";
import { BullJobQueue } from "../../src/jobs/bullmq-queue.js";
import type { JobControl } from "../../src/jobs/queue.js";
import { JobRunner } from "../../src/jobs/runner.js";
import { openQueueConnection } from "../../src/store/queue-connection.js";
import type { Store } from "../../src/store/store.js";
import { REDIS_URL } from "../helpers/backends.js";

export interface Opened {
  jobs: JobRunner;
  /** Stops the queue and closes what the rig opened for it (not the store). */
  close(): Promise<void>;
  /** What the queue keeps about a job beside its record (BullMQ: the ids in its runs set). */
  kept(id: string): Promise<string[]>;
}

export interface Rig {
  /** Where the state is kept: a fresh SQLite file in `dir`, or the shared Redis. */
  storeUrl(dir: string): string;
  /** A queue on `store`; `shared` names the work two instances of one test share. */
  open(store: Store, shared: string, opts: { leaseMs: number }): Promise<Opened>;
}

/** How often each rig's queue sweeps; a sweep-queued run's BullMQ id names its period. */
export const SWEEP_MS = 200;

export const rigs: Record<string, Rig> = {
  "in-process runner": {
    storeUrl: (dir) => `sqlite:${join(dir, `${randomBytes(4).toString("hex")}.sqlite`)}`,
    open: async (store, _shared, { leaseMs }) => {
      const jobs = new JobRunner(store, { leaseMs, sweepMs: SWEEP_MS, pendingMs: 60_000 });
      return { jobs, close: () => jobs.stop(), kept: async () => [] };
    },
  },
  BullMQ: {
    storeUrl: () => REDIS_URL,
    open: async (store, shared, { leaseMs }) => {
      const connection = await openQueueConnection(REDIS_URL);
      const jobs = new BullJobQueue(store, connection, {
        name: `contract-${shared}`,
        leaseMs,
        sweepMs: SWEEP_MS,
        pendingMs: 60_000,
        lockMs: 1_000,
        stalledMs: 500,
      });
      return {
        jobs,
        kept: (id) => connection.sets.members(`bull:contract-${shared}:runs-of:${id}`),
        close: async () => {
          await jobs.stop();
          // The test's queue leaves nothing behind in the shared Redis.
          const queue = new Queue(`contract-${shared}`, { connection: connection.client });
          await queue.obliterate({ force: true });
          await queue.close();
          await connection.close();
        },
      };
    },
  },
};

export const Units = z.object({ units: z.number() });
export const Next = z.object({ next: z.number() });
export type UnitsEvent = { event: "finished"; units: number };

/**
 * A job of `units` units, saving after each and reporting "finished" at the end;
 * `enter(i)` is awaited at the start of unit i (a test holds a unit there).
 */
export function unitsJob(enter: (unit: number) => void | Promise<void>) {
  return {
    kind: "units",
    data: Units,
    cursor: Next,
    async run(
      job: { data: { units: number }; cursor?: { next: number } },
      control: JobControl<{ next: number }, UnitsEvent, never>,
    ) {
      for (let i = job.cursor?.next ?? 0; i < job.data.units; i++) {
        await enter(i);
        await control.save({ next: i + 1 });
      }
      await control.report({ event: "finished", units: job.data.units });
      return undefined;
    },
  };
}
