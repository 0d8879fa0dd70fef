/**
 * The job queue shared by many processes: BullMQ on Redis. Each run of a job, now
 * or at a later time, is a BullMQ job (a delayed one for later) that any process's
 * worker may take; a process that dies mid-run leaves its BullMQ job "stalled",
 * and BullMQ's stalled-job check hands it to another worker once its lock runs out.
 *
 * What a job is and how far it got stays in the store, as with the in-process
 * runner it extends: its record, its place in the due set, and its lease. A worker
 * runs a job under the lease and every write is fenced by it, so a stale worker
 * (one that stalled while the job was taken over) can't save over the new one's
 * progress. The BullMQ job carries only the record's id: a run reads the record
 * and does nothing when it has been finished, cancelled or moved to a later time
 * meanwhile, so a run queued twice is harmless. /cancel takes a job's queued runs back
 * (dropRuns), so a cancelled watch leaves no delayed run waiting in Redis for weeks.
 *
 * BullMQ ids are `<job>@<due time>`, so every process that queues the same run (a
 * sweep that finds it due, the run before that asking for it) queues it once.
 *
 * BullMQ finds a run by its id only, and 10,000 watches share the queue, so each job
 * keeps the ids of its queued runs in a set of its own (runs-of:<job>): added before
 * the run is queued, removed when a worker is done with it, and emptied with the
 * runs it names when the job ends or is cancelled. A sweep's run queued hours ago
 * behind a backed-up queue is found there like the delayed one for the due time.
 */
import { Queue, Worker } from "bullmq";
import { log } from "../log.js";
import type { QueueConnection } from "../store/queue-connection.js";
import type { Store } from "../store/store.js";
import { type JobRecord, JobRunner } from "./runner.js";

export interface BullQueueOptions {
  /** The BullMQ queue's name: processes sharing it share the work. */
  name?: string;
  leaseMs?: number;
  sweepMs?: number;
  pendingMs?: number;
  /** Runs one process takes on at once (most wait on remote servers). */
  concurrency?: number;
  /**
   * BullMQ's lock on a run, renewed while the process lives: a dead process's run
   * is handed on within about this long plus stalledMs.
   */
  lockMs?: number;
  /** How often a worker looks for runs whose process stopped renewing their lock. */
  stalledMs?: number;
}

const DEFAULT_NAME = "fedimove-jobs";

/** The BullMQ job id of one run of a job: the job's id and its due time. */
const runId = (id: string, at: number) => `${id}@${at}`;

export class BullJobQueue extends JobRunner {
  private readonly queue: Queue;
  private worker?: Worker;
  private readonly sweepMs: number;
  /** Runs being queued, so a test or a stop can wait for them. */
  private readonly adding = new Set<Promise<unknown>>();

  constructor(
    store: Store,
    private readonly connection: QueueConnection,
    private readonly bull: BullQueueOptions = {},
  ) {
    super(store, { leaseMs: bull.leaseMs, sweepMs: bull.sweepMs, pendingMs: bull.pendingMs });
    this.sweepMs = bull.sweepMs ?? 5_000;
    this.queue = new Queue(bull.name ?? DEFAULT_NAME, { connection: connection.client });
    this.queue.on("error", (err) => log.warn("job queue error", { err }));
  }

  /** Takes runs from the shared queue, any process's, and keeps sweeping the store for orphans. */
  override async startSweeping(): Promise<number> {
    this.startWorker();
    return super.startSweeping();
  }

  /** Takes runs from the shared queue (startSweeping does this too). */
  startWorker(): void {
    if (this.worker || this.stopping) return;
    this.worker = new Worker(
      this.bull.name ?? DEFAULT_NAME,
      (run) => this.take(run.data).finally(() => this.taken(run.data, run.id)),
      {
        connection: this.connection.client,
        concurrency: this.bull.concurrency ?? 200,
        lockDuration: this.bull.lockMs ?? 30_000,
        stalledInterval: this.bull.stalledMs ?? 30_000,
        // A run stalls each time its process dies; it is handed on, never failed for it.
        maxStalledCount: Number.MAX_SAFE_INTEGER,
      },
    );
    this.worker.on("error", (err) => log.warn("job worker error", { err }));
  }

  /** One BullMQ job: the run it names, if the record still wants it now. */
  private async take(data: unknown): Promise<void> {
    const id = (data as { id?: unknown } | undefined)?.id;
    if (typeof id !== "string" || this.isRunningHere(id)) return;
    const record = await this.records.get(id);
    if (record?.status !== "running") return;
    // Moved later by a run meanwhile: that run queued its own next one; this only makes sure.
    if ((record.dueAt ?? 0) > Date.now()) return this.schedule(record);
    await this.runHere(record);
  }

  /** A run a worker is done with leaves its job's set (BullMQ removes the run itself). */
  private async taken(data: unknown, runId: string | undefined): Promise<void> {
    const id = (data as { id?: unknown } | undefined)?.id;
    if (typeof id !== "string" || runId === undefined) return;
    // Left behind, the id is dropped with the job's other runs when it ends or is cancelled.
    await this.connection.sets.remove(this.runsOf(id), runId).catch(() => {});
  }

  /** The Redis set of the BullMQ ids of a job's queued runs, beside the queue's own keys. */
  private runsOf(id: string): string {
    return this.queue.toKey(`runs-of:${id}`);
  }

  protected override launch(record: JobRecord): void {
    this.enqueue(record.id, runId(record.id, record.dueAt ?? 0), 0);
  }

  /**
   * A due job the sweep found: its own id for this sweep period, never the one a
   * stale run may still hold (active in a process that lost the lease but hasn't
   * noticed), so a takeover doesn't wait for that run to end. Processes sweeping
   * in the same period queue it once; a run finding the lease held does nothing.
   */
  protected override resume(record: JobRecord): void {
    const period = Math.floor(Date.now() / this.sweepMs);
    this.enqueue(record.id, `${runId(record.id, record.dueAt ?? 0)}~${period}`, 0);
  }

  protected override wakeAt(id: string, at: number): void {
    // BullMQ keeps the due time in Redis, and its worker never sets one timer for
    // it: a run 40 days away waits like one a minute away.
    this.enqueue(id, runId(id, at), Math.max(0, at - Date.now()));
  }

  private enqueue(id: string, jobId: string, delay: number): void {
    if (this.stopping) return;
    // In the job's set first: a run in the queue is always found from its job. (A cancel
    // between the two misses the run; it finds the record cancelled and takes itself out.)
    const added = this.connection.sets
      .add(this.runsOf(id), jobId)
      .then(() =>
        this.queue.add("run", { id }, { jobId, delay, removeOnComplete: true, removeOnFail: true }),
      )
      .catch((err: unknown) =>
        // The record is due in the store; the sweep queues it again.
        log.warn("could not queue a job run; the sweep will", { job: id, err }),
      )
      .finally(() => this.adding.delete(added));
    this.adding.add(added);
  }

  /**
   * The shared queue answers: BullMQ's own Redis connection (QUEUE_URL may name another
   * Redis than the store's), and this process's worker, when it takes work, still runs.
   */
  override async check(): Promise<void> {
    await this.connection.ping();
    if (this.worker && !this.stopping && !this.worker.isRunning()) {
      throw new Error("the job worker has stopped");
    }
  }

  /**
   * A job's runs still queued, whatever queued them (its own run asking for the next,
   * any process's sweep, however long ago), removed from the shared queue with the set
   * that named them: once the job has ended or been cancelled. A run under way is locked
   * and stays (BullMQ's remove says 0); it finds the record cancelled, or its save refused.
   */
  protected override async dropRuns(id: string): Promise<void> {
    const key = this.runsOf(id);
    try {
      const runs = await this.connection.sets.members(key);
      await Promise.all(runs.map((run) => this.queue.remove(run)));
      await this.connection.sets.drop(key);
    } catch (err) {
      // Left behind, a run finds the record cancelled or done and does nothing.
      log.warn("could not remove a job's queued runs", { job: id, err });
    }
  }

  /**
   * Runs of the job the shared queue holds, delayed or waiting, by when they are due, with
   * the runner's own (tests: it reads every queued run).
   */
  override async queuedRuns(id: string): Promise<number[]> {
    const queued = await this.queue.getJobs(["delayed", "waiting", "prioritized"]);
    const ours = queued
      .filter((run) => (run?.data as { id?: unknown } | undefined)?.id === id)
      .map((run) => run.timestamp + (run.delay ?? 0));
    return [...(await super.queuedRuns(id)), ...ours];
  }

  /** When the shared queue will hand the job's next run to a worker, any process's (tests). */
  override async scheduledAt(id: string): Promise<number | undefined> {
    const record = await this.records.get(id);
    if (!record) return undefined;
    const run = await this.queue.getJob(runId(id, record.dueAt ?? 0));
    return run ? run.timestamp + (run.delay ?? 0) : undefined;
  }

  override async stop(): Promise<void> {
    await super.stop();
    await Promise.allSettled([...this.adding]);
    // Runs that were cut short here are handed on by the stalled check, or queued again by a sweep.
    await this.worker?.close();
    await this.queue.close();
  }

  override async idle(opts: { scheduled?: boolean } = {}): Promise<void> {
    await Promise.allSettled([...this.adding]);
    await super.idle(opts);
  }
}
