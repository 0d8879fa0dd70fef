/**
 * The bot without a channel: the network (one guarded, paced HTTP layer and the
 * clients over it), the job queue with every kind of job, and the engine that
 * steps users through the journey. The app adds channels to it; tests and
 * benchmarks use it as it is, so they run the same wiring the app runs.
 */
import type { Notifier } from "./chat/conversation.js";
import { InstanceActor } from "./clients/instance-actor.js";
import { MicroblogClient } from "./clients/microblog.js";
import { MastodonOAuth } from "./clients/oauth.js";
import { SignIn } from "./clients/sign-in.js";
import { realWorld, type World } from "./clients/world.js";
import { Engine } from "./engine/engine.js";
import { BullJobQueue } from "./jobs/bullmq-queue.js";
import type { AnyJobHandler } from "./jobs/queue.js";
import { type JobDeps, type JobHandlers, jobHandlers, registerJobs } from "./jobs/registry.js";
import { JobRunner } from "./jobs/runner.js";
import type { WatchOptions } from "./jobs/watch-job.js";
import { log, logContext } from "./log.js";
import { metrics } from "./metrics.js";
import { GuardedDispatcher } from "./net/dispatcher.js";
import { Http } from "./net/http.js";
import { Pacer } from "./net/pacer.js";
import type { QueueConnection } from "./store/queue-connection.js";
import type { Sealer } from "./store/seal.js";
import type { Store } from "./store/store.js";

/** How the bot reaches the world: where servers are, what is allowed, how long to wait. */
export interface NetworkOptions {
  allowPrivateNetwork: boolean;
  timeoutMs: number;
  /** Where a Fediverse domain is reached: https://domain, except where the sandbox plays it. */
  originOf: (host: string) => string;
  /** micro.blog's API and the domain in its handles; absent, micro.blog can't be the new account. */
  microblog?: { origin: string; domain: string };
  /** The bot's public address: OAuth comes back to its callback page instead of a pasted code. */
  publicUrl?: string;
  /** Pause before a retry (tests shorten it). */
  backoffMs?: number;
  /** Margin the pacer keeps past a server's reset, in ms (tests shorten it). */
  pacerMarginMs?: number;
  /** A pacer of the caller's (benchmarks count what it does). */
  pacer?: Pacer;
  /** Wraps the OAuth client (benchmarks time its requests). */
  instrument?: <T extends object>(client: T) => T;
}

export interface CoreOptions {
  store: Store;
  sealer: Sealer;
  network: NetworkOptions;
  /** Replace parts of the world (tests: a fake for what can't be reached from here). */
  world?: (world: World) => World;
  /** The length of a reminder's day; tests and the demo compress it. */
  dayMs?: number;
  /** How long a job stays with a process that stopped answering before another takes it over. */
  jobLeaseMs?: number;
  /** Jobs shared with other processes through BullMQ on this Redis; absent, they run here. */
  queue?: QueueConnection;
  /** How often the Move is looked for after an early "I've moved". */
  pollMs?: number;
  watch?: Partial<WatchOptions>;
  /** The import's first wait before asking about a follow that failed for a passing reason. */
  importRetryMs?: number;
  /** Replace job handlers (benchmarks time the real ones from the outside). */
  handlers?: (handlers: JobHandlers, deps: JobDeps) => Partial<JobHandlers>;
  notifier?: Notifier;
  now?: () => number;
}

export interface Core {
  readonly store: Store;
  readonly sealer: Sealer;
  readonly world: World;
  readonly http: Http;
  readonly signIn: SignIn;
  /** The bot's ActivityPub actor that signs its reads (with PUBLIC_URL, where it is served). */
  readonly instanceActor?: InstanceActor;
  readonly jobs: JobRunner;
  readonly engine: Engine;
  /** Stops the jobs and closes the network; the store belongs to the caller. */
  close(): Promise<void>;
}

export function createCore(opts: CoreOptions): Core {
  const { store, sealer, network } = opts;
  const pacer = network.pacer ?? new Pacer(network.pacerMarginMs);
  // Every process on the store's Redis paces against the same limits.
  if (store.limits) pacer.share(store.limits);
  const dispatcher = new GuardedDispatcher(pacer, network.allowPrivateNetwork);
  const http = new Http(dispatcher, network.timeoutMs, network.backoffMs);
  const oauth = new MastodonOAuth(http);
  const signIn = new SignIn(network.instrument?.(oauth) ?? oauth, store, sealer, {
    publicUrl: network.publicUrl,
    now: opts.now,
  });
  const instanceActor = network.publicUrl
    ? new InstanceActor(store, sealer, network.publicUrl, opts.now)
    : undefined;
  const built = realWorld({
    http,
    signIn,
    microblog: network.microblog && new MicroblogClient(http, network.microblog.origin),
    microblogDomain: network.microblog?.domain,
    allowPrivateNetwork: network.allowPrivateNetwork,
    timeoutMs: network.timeoutMs,
    originOf: network.originOf,
    ...(instanceActor ? { signer: () => instanceActor.signer() } : {}),
  });
  const world = opts.world ? opts.world(built) : built;
  const jobs = opts.queue
    ? new BullJobQueue(store, opts.queue, { leaseMs: opts.jobLeaseMs })
    : new JobRunner(store, { leaseMs: opts.jobLeaseMs });
  const engine = new Engine({
    store,
    sealer,
    world,
    jobs,
    notifier: opts.notifier,
    now: opts.now,
    dayMs: opts.dayMs,
    forgetAfterMs: opts.watch?.forgetAfterMs,
  });
  const deps: JobDeps = {
    world,
    sealer,
    store,
    pollMs: opts.pollMs,
    watch: opts.watch,
    importRetryMs: opts.importRetryMs,
  };
  const handlers = jobHandlers(deps);
  registerJobs(jobs, observed({ ...handlers, ...opts.handlers?.(handlers, deps) }));
  jobs.reporter = engine;
  return {
    store,
    sealer,
    world,
    http,
    signIn,
    ...(instanceActor ? { instanceActor } : {}),
    jobs,
    engine,
    async close() {
      await jobs.stop();
      await dispatcher.close();
    },
  };
}

/**
 * Each job's runs counted by kind and how they ended, and logged with the job's id on
 * every line they write.
 */
function observed(handlers: JobHandlers): JobHandlers {
  const wrapped: Record<string, AnyJobHandler> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, AnyJobHandler][]) {
    const { kind } = handler;
    wrapped[name] = {
      ...handler,
      run: (job, control) =>
        logContext({ job: job.id, kind }, async () => {
          metrics.jobsRunning.inc({ kind });
          try {
            const result = await handler.run(job, control);
            metrics.jobRuns.inc({ kind, state: result ? "again" : "done" });
            return result;
          } catch (err) {
            metrics.jobRuns.inc({ kind, state: "failed" });
            log.debug("job run ended with an error", { err });
            throw err;
          } finally {
            metrics.jobsRunning.dec({ kind });
          }
        }),
    };
  }
  return wrapped as unknown as JobHandlers;
}
