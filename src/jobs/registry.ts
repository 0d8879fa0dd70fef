/**
 * Every kind of job, each with its data schema and its handler, in one place for
 * the app, the tests and the benchmarks. The table is typed by the journey's
 * job kinds (model/jobs.ts), so a kind a step can ask for always has a handler
 * whose data is what the step sends, and whose events are what the step takes.
 */
import type { World } from "../clients/world.js";
import type { JobDataOf, JobEvents, JobKind } from "../model/jobs.js";
import type { Sealer } from "../store/seal.js";
import type { Store } from "../store/store.js";
import { forgetLaterJob } from "./forget-later-job.js";
import { importJob } from "./import-job.js";
import { movePollJob } from "./move-poll-job.js";
import type { AnyJobHandler, JobHandler } from "./queue.js";
import { reminderJob } from "./reminder-job.js";
import { snapshotJob } from "./snapshot-job.js";
import { type WatchOptions, watchJob } from "./watch-job.js";

/**
 * Watch polls run at once in one process: enough to keep the old servers' connections
 * busy while some runs wait long (a finished watch asks the follower servers it names,
 * at most FOLLOWER_SERVERS.timeoutMs for one that doesn't answer); few enough that
 * ten thousand due at once don't queue their requests past their timeout.
 */
export const WATCH_RUNS = 256;

export interface JobDeps {
  world: World;
  sealer: Sealer;
  store: Store;
  /** How often the Move is looked for after "I've moved" came early. */
  pollMs?: number;
  /** The watcher's intervals (tests and the demo compress days into seconds). */
  watch?: Partial<WatchOptions>;
  /** The import's first wait before asking about a follow that failed for a passing reason. */
  importRetryMs?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: each handler keeps its own cursor and progress types.
type HandlerOf<K extends JobKind> = JobHandler<JobDataOf<K>, any, JobEvents[K], any> & {
  readonly kind: K;
};
export type JobHandlers = { readonly [K in JobKind]: HandlerOf<K> };

export function jobHandlers(deps: JobDeps): JobHandlers {
  return {
    snapshot: { ...snapshotJob(deps), kind: "snapshot" },
    "import-follows": {
      ...importJob({ ...deps, retryFirstMs: deps.importRetryMs }),
      kind: "import-follows",
    },
    reminder: { ...reminderJob(), kind: "reminder" },
    "move-poll": { ...movePollJob({ everyMs: deps.pollMs }), kind: "move-poll" },
    // Short runs that come due by the thousand: a few at a time keep each quick (bench/watch.ts).
    watch: {
      ...watchJob({ ...deps, options: deps.watch }),
      kind: "watch",
      concurrency: WATCH_RUNS,
    },
    "forget-later": { ...forgetLaterJob(), kind: "forget-later" },
  };
}

export function registerJobs(
  jobs: { register(handler: AnyJobHandler): void },
  handlers: JobHandlers,
): void {
  for (const handler of Object.values(handlers)) jobs.register(handler);
}
