/**
 * A job whose store goes away while it works: it stops where it last saved, the
 * sweep keeps sweeping (and failing) meanwhile, and once the store is back the
 * sweep runs the job again from there to the end. The store is the real local
 * Redis, reached through a proxy the test takes down (test/helpers/tcp-proxy.ts).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { JobControl } from "../../src/jobs/queue.js";
import { JobRunner } from "../../src/jobs/runner.js";
import { REDIS_URL } from "../helpers/backends.js";
import { closedAfterEach } from "../helpers/closing.js";
import { eventually, proxiedStore } from "../helpers/tcp-proxy.js";

const closing = closedAfterEach<{ close(): Promise<void> }>();

describe("job runner: the store unreachable", () => {
  it("a job pauses where it saved, and the sweep finishes it once the store is back", async () => {
    const { proxy, store } = await proxiedStore(REDIS_URL, closing);
    const user = `tg:${randomBytes(4).readUInt32BE()}` as const;
    const id = randomUUID();
    const started: number[] = [];
    let letGo!: () => void;
    const unitOne = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    const jobs = new JobRunner(store, { leaseMs: 600, sweepMs: 100 });
    jobs.register({
      kind: "units",
      data: z.object({ units: z.number() }),
      cursor: z.object({ next: z.number() }),
      async run(
        job: { data: { units: number }; cursor?: { next: number } },
        control: JobControl<{ next: number }, never, never>,
      ) {
        for (let i = job.cursor?.next ?? 0; i < job.data.units; i++) {
          started.push(i);
          if (i === 1) await unitOne;
          await control.save({ next: i + 1 });
        }
        return undefined;
      },
    });
    closing({ close: async () => letGo() });
    closing({ close: () => jobs.stop() });
    await jobs.startSweeping();
    await jobs.start(user, { kind: "units", id, data: { units: 3 } });
    while (!started.includes(1)) await sleep(10);

    await proxy.down();
    letGo(); // unit 1 is done, but its save can't reach the store
    await jobs.idle();
    await sleep(300); // a few sweeps fail meanwhile; the sweeper carries on
    expect(started).toEqual([0, 1]);

    await proxy.up();
    await eventually(async () => expect((await jobs.get(id))?.status).toBe("done"));
    expect(started).toEqual([0, 1, 1, 2]);
    expect(await jobs.get(id)).toMatchObject({ cursor: { next: 3 } });
    await jobs.cancelAll(user, { forget: true });
  });
});
