/**
 * Work that outlives a message. A job's record is saved in the store before it
 * starts and after every unit of progress; a lease per job (see store/with-lock)
 * makes sure that one process runs it, and a process that starts finds every
 * unfinished job in the index and resumes it from its last saved progress.
 *
 * A job may also ask to run again later (`{ again: time }`): the watcher polls
 * this way for days. Between runs it holds no lease and no loop, only a timer
 * here and its `dueAt` in the store, so ten thousand of them cost little; a
 * timer that fires reads `dueAt` again, since another process may have run it.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { type UserKey, UserKeySchema } from "../chat/conversation.js";
import { log } from "../log.js";
import type { JobInput } from "../model/jobs.js";
import { collection } from "../store/collection.js";
import type { KeyValue, Store } from "../store/store.js";
import { LockTimeoutError, withLock } from "../store/with-lock.js";
import {
  type AnyJobHandler,
  JobCancelledError,
  type JobControl,
  type JobHandler,
  type JobQueue,
  type JobReporter,
} from "./queue.js";

export type JobStatus = "running" | "done" | "failed" | "cancelled";

/** The envelope every job is kept in; its data and cursor are checked by the handler's schemas. */
const JobRecord = z.object({
  id: z.string(),
  user: UserKeySchema,
  kind: z.string(),
  status: z.enum(["running", "done", "failed", "cancelled"]),
  data: z.unknown(),
  cursor: z.unknown().optional(),
  progress: z.unknown().optional(),
  updatedAt: z.number(),
  /** Not before this time (a job that asked to run again later). */
  dueAt: z.number().optional(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/**
 * The longest a timer is set for: Node fires a longer one at once (2^31−1 ms,
 * about 24.8 days), and a job may wait weeks. A wake-up before the due time
 * only sets the next timer.
 */
export const MAX_TIMER_MS = 24 * 3_600_000;

const INDEX_KEY = "active";

export class JobRunner implements JobQueue {
  private readonly records: KeyValue<JobRecord>;
  private readonly index: KeyValue<string[]>;
  /** Where jobs' reports go (the engine); set once everything is wired. */
  reporter?: JobReporter;
  private readonly running = new Map<
    string,
    { user: UserKey; abort: AbortController; done: Promise<void> }
  >();
  private readonly handlers = new Map<string, AnyJobHandler>();
  private stopping = false;
  private sweeper?: NodeJS.Timeout;
  /** Jobs waiting for their next run here, by id. */
  private readonly timers = new Map<string, { user: UserKey; timer: NodeJS.Timeout; at: number }>();

  /**
   * leaseMs: how long a job's lease outlives a process that died holding it; the
   * sweep picks such jobs up once their lease has run out.
   */
  constructor(
    private readonly store: Store,
    private readonly opts: { leaseMs?: number; sweepMs?: number } = {},
  ) {
    this.records = collection(store, "jobs", JobRecord);
    this.index = collection(store, "job-index", z.array(z.string()));
  }

  /** One handler per kind; launch() checks a record's data and cursor with its own schemas. */
  register(handler: AnyJobHandler): void {
    this.handlers.set(handler.kind, handler);
  }

  newId(): string {
    return randomUUID();
  }

  /** Saves the job and starts it. Call once the state that names it is saved. */
  async start(user: UserKey, request: { kind: string; id: string; data: unknown }): Promise<void> {
    const { kind, id, data } = request;
    const record: JobRecord = { id, user, kind, status: "running", data, updatedAt: Date.now() };
    await this.records.set(id, record);
    await this.editIndex((ids) => [...ids.filter((x) => x !== id), id]);
    this.launch(record);
  }

  /** Resumes unfinished jobs now, and keeps looking for orphaned ones (a process that died) until stop(). */
  async startSweeping(): Promise<number> {
    const resumed = await this.resumeAll();
    const every = this.opts.sweepMs ?? 5_000;
    this.sweeper = setInterval(() => {
      this.resumeAll().catch((err) => log.warn("job sweep failed", { err }));
    }, every);
    this.sweeper.unref();
    return resumed;
  }

  /** Every unfinished job in the store, started here unless another process holds it. */
  async resumeAll(): Promise<number> {
    let resumed = 0;
    for (const id of (await this.index.get(INDEX_KEY)) ?? []) {
      if (this.running.has(id) || this.timers.has(id)) continue;
      const record = await this.records.get(id);
      if (record?.status !== "running") continue;
      if ((record.dueAt ?? 0) > Date.now()) this.schedule(record);
      else {
        this.launch(record);
        resumed += 1;
      }
    }
    return resumed;
  }

  private schedule(record: JobRecord): void {
    if (this.stopping) return;
    // The timer keeps only the id: wake() reads the record again, and holding the whole
    // record cost about 1 KB per waiting watch (bench/watch.ts).
    const { id, user } = record;
    const at = record.dueAt ?? 0;
    clearTimeout(this.timers.get(id)?.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(id);
        this.wake(id).catch((err) => log.warn("job wake failed", { job: id, err }));
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())),
    );
    timer.unref();
    this.timers.set(id, { user, timer, at });
  }

  /** A timer fired: run the job if it is still due, or wait for its newer time. */
  private async wake(id: string): Promise<void> {
    const record = await this.records.get(id);
    if (record?.status !== "running" || this.running.has(id)) return;
    if ((record.dueAt ?? 0) > Date.now()) this.schedule(record);
    else this.launch(record);
  }

  /** The job's saved record, for tests and benchmarks. */
  get(id: string): Promise<JobRecord | undefined> {
    return this.records.get(id);
  }

  async progress(id: string): Promise<unknown> {
    return (await this.records.get(id))?.progress;
  }

  /** Stops every job of this user, here and, through the saved status, in other processes. */
  async cancelAll(user: UserKey, opts: { forget?: boolean } = {}): Promise<void> {
    const ids = (await this.index.get(INDEX_KEY)) ?? [];
    const mine: string[] = [];
    for (const id of ids) {
      const record = await this.records.get(id);
      if (record?.user !== user) continue;
      mine.push(id);
      if (opts.forget) await this.records.delete(id);
      else await this.records.set(id, { ...record, status: "cancelled", updatedAt: Date.now() });
    }
    for (const [id, waiting] of this.timers) {
      if (waiting.user === user) {
        clearTimeout(waiting.timer);
        this.timers.delete(id);
      }
    }
    for (const [id, job] of this.running) {
      if (job.user === user) {
        job.abort.abort(new JobCancelledError("cancelled"));
        await job.done;
        if (opts.forget) await this.records.delete(id);
      }
    }
    if (mine.length > 0) await this.editIndex((list) => list.filter((x) => !mine.includes(x)));
  }

  /** Graceful shutdown: stop working, keep the records, so the next start resumes them. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    for (const waiting of this.timers.values()) clearTimeout(waiting.timer);
    this.timers.clear();
    for (const job of this.running.values()) job.abort.abort(new Error("shutting down"));
    await Promise.allSettled([...this.running.values()].map((j) => j.done));
  }

  /**
   * Resolves when every job running in this process has ended (for tests and
   * benches); with `scheduled`, also those waiting to run again.
   */
  async idle(opts: { scheduled?: boolean } = {}): Promise<void> {
    for (;;) {
      if (this.running.size > 0) {
        await Promise.allSettled([...this.running.values()].map((j) => j.done));
      } else if (opts.scheduled && this.timers.size > 0) {
        await new Promise((r) => setTimeout(r, 5));
      } else return;
    }
  }

  /** How many jobs wait here for a later run (the watcher bench reads it). */
  get waiting(): number {
    return this.timers.size;
  }

  private launch(record: JobRecord): void {
    const handler = this.handlers.get(record.kind);
    if (!handler || this.stopping) {
      if (!handler) log.error("no handler for job", { kind: record.kind, job: record.id });
      return;
    }
    const abort = new AbortController();
    const done = this.execute(handler, record, abort).finally(() => this.running.delete(record.id));
    this.running.set(record.id, { user: record.user, abort, done });
  }

  /** The record's data and cursor, checked by the handler's schemas; undefined (and the job failed) when they don't fit. */
  private async open(handler: JobHandler, record: JobRecord) {
    const data = handler.data.safeParse(record.data);
    const cursor =
      record.cursor === undefined ? undefined : handler.cursor.safeParse(record.cursor);
    if (data.success && (cursor === undefined || cursor.success)) {
      return {
        id: record.id,
        user: record.user,
        kind: record.kind,
        data: data.data,
        cursor: cursor?.data,
      };
    }
    const issue = (data.success ? cursor?.error : data.error)?.issues[0];
    log.error("job record does not fit its kind; failed", {
      kind: record.kind,
      job: record.id,
      at: issue?.path.join(".") || "data",
    });
    await this.store
      .namespace("unreadable")
      .set(`jobs:${record.id}`, [
        { at: Date.now(), issue: issue?.message ?? "does not fit", value: record },
      ]);
    await this.records.set(record.id, { ...record, status: "failed", updatedAt: Date.now() });
    await this.editIndex((ids) => ids.filter((x) => x !== record.id));
    return undefined;
  }

  private async execute(
    handler: JobHandler,
    record: JobRecord,
    abort: AbortController,
  ): Promise<void> {
    let again: JobRecord | undefined;
    try {
      await withLock(
        this.store.locks,
        `job:${record.id}`,
        async (leaseLost) => {
          const job = await this.open(handler, record);
          if (!job) return;
          const signal = AbortSignal.any([abort.signal, leaseLost]);
          let current = record;
          const control: JobControl<unknown, unknown, unknown> = {
            signal,
            save: async (cursor, progress) => {
              const saved = await this.records.get(record.id);
              if (saved?.status !== "running") throw new JobCancelledError("cancelled");
              current = {
                ...current,
                cursor,
                progress: progress ?? current.progress,
                updatedAt: Date.now(),
              };
              await this.records.set(record.id, current);
            },
            report: async (event) => {
              if (!this.reporter) throw new Error("jobs have no reporter");
              // The handler's events are its kind's (see model/jobs.ts and registry.ts).
              const input = { kind: "job", job: record.kind, id: record.id, ...(event as object) };
              return this.reporter.report(record.user, input as JobInput);
            },
          };
          // A lease the job waited for inside its work (a user's, the index) is a failure of
          // this run, not "another process runs this job": only our own lease means that.
          const result = await handler.run(job, control).catch((err: unknown) => {
            throw err instanceof LockTimeoutError
              ? new Error("a lock inside the job timed out", { cause: err })
              : err;
          });
          const saved = await this.records.get(record.id);
          if (saved?.status !== "running") return;
          if (result && "again" in result) {
            again = { ...current, dueAt: result.again, updatedAt: Date.now() };
            await this.records.set(record.id, again);
            return;
          }
          await this.records.set(record.id, { ...current, status: "done", updatedAt: Date.now() });
        },
        { waitMs: 0, ttlMs: this.opts.leaseMs ?? 15_000 },
      );
      if (again) {
        this.schedule(again);
        return;
      }
      await this.editIndex((ids) => ids.filter((x) => x !== record.id));
    } catch (err) {
      if (err instanceof LockTimeoutError) return; // another process runs it
      if (err instanceof JobCancelledError || abort.signal.aborted) return;
      log.error("job failed", { kind: record.kind, job: record.id, err });
      if (handler.retryAfterErrorMs !== undefined && !this.stopping) {
        // Work that must not die of one bad moment (the watch): try again later, from what it saved.
        const latest = (await this.records.get(record.id)) ?? record;
        const retry = {
          ...latest,
          dueAt: Date.now() + handler.retryAfterErrorMs,
          updatedAt: Date.now(),
        };
        await this.records.set(record.id, retry);
        this.schedule(retry);
        return;
      }
      await this.records.set(record.id, { ...record, status: "failed", updatedAt: Date.now() });
      await this.editIndex((ids) => ids.filter((x) => x !== record.id));
    }
  }

  private async editIndex(edit: (ids: string[]) => string[]): Promise<void> {
    await withLock(this.store.locks, "job-index", async () => {
      await this.index.set(INDEX_KEY, edit((await this.index.get(INDEX_KEY)) ?? []));
    });
  }
}
