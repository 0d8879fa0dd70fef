/** Every kind of job, registered in one place for the app, the tests and the benchmarks. */
import type { Notifier } from "../chat/conversation.js";
import type { World } from "../clients/world.js";
import type { Engine } from "../engine/engine.js";
import type { Sealer } from "../store/seal.js";
import type { Store } from "../store/store.js";
import { forgetLaterJob } from "./forget-later-job.js";
import { importJob } from "./import-job.js";
import { movePollJob } from "./move-poll-job.js";
import { reminderJob } from "./reminder-job.js";
import type { JobHandler, JobRunner } from "./runner.js";
import { snapshotJob } from "./snapshot-job.js";
import { type WatchOptions, watchJob } from "./watch-job.js";

export interface JobDeps {
  engine: Engine;
  world: World;
  sealer: Sealer;
  store: Store;
  notifier: () => Notifier | undefined;
  /** How often the Move is looked for after "I've moved" came early. */
  pollMs?: number;
  /** The watcher's intervals (tests and the demo compress days into seconds). */
  watch?: Partial<WatchOptions>;
}

export function allJobs(deps: JobDeps): JobHandler<never>[] {
  return [
    snapshotJob(deps),
    importJob(deps),
    reminderJob(deps),
    movePollJob({ ...deps, everyMs: deps.pollMs }),
    watchJob({ ...deps, options: deps.watch }),
    forgetLaterJob(deps),
  ] as JobHandler<never>[];
}

export function registerJobs(jobs: JobRunner, deps: JobDeps): void {
  for (const handler of allJobs(deps)) jobs.register(handler);
}
