/**
 * Work that outlives a message. A job's record is saved in the store before it
 * starts and after every unit of progress; a lease per job (see store/with-lock)
 * makes sure that one process runs it, and a process that starts finds every
 * unfinished job among the due ones and resumes it from its last saved progress.
 *
 * Each job is its own record. Which jobs are unfinished, and when each is due, is a
 * scored set (store/scored-sets.ts: a Redis sorted set, an indexed table); so is
 * each user's list of jobs. Starting or finishing a job adds or removes one member:
 * nothing reads and rewrites a list of every job.
 * Every write a run makes to its record is fenced by its lease: a process that
 * stalled past its lease, while another took the job over, cannot save over the
 * other's progress; its save fails and its run stops.
 *
 * A job may also ask to run again later (`{ again: time }`): the watcher polls
 * this way for days. Between runs it holds no lease and no loop, only a timer
 * here and its `dueAt` in the store, so ten thousand of them cost little; a
 * timer that fires reads `dueAt` again, since another process may have run it.
 *
 * When the store can't be reached, a run stops where it last saved and its record
 * stays as it was; the sweep, which keeps running, resumes it once the store is back.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { type UserKey, UserKeySchema } from "../chat/conversation.js";
import { log } from "../log.js";
import type { JobInput } from "../model/jobs.js";
import { collection, UNREADABLE } from "../store/collection.js";
import { FencedOutError, StoreUnavailableError } from "../store/errors.js";
import type { Fence, KeyValue, ScoredSets, Store } from "../store/store.js";
import { LockTimeoutError, withLock } from "../store/with-lock.js";
import {
  type AnyJobHandler,
  JobCancelledError,
  type JobControl,
  type JobHandler,
  type JobQueue,
  type JobReporter,
} from "./queue.js";

/** "pending": prepared by a turn whose state may not be saved yet; nothing runs it. */
export type JobStatus = "pending" | "running" | "done" | "failed" | "cancelled";

/** The envelope every job is kept in; its data and cursor are checked by the handler's schemas. */
const JobRecord = z.object({
  id: z.string(),
  user: UserKeySchema,
  kind: z.string(),
  status: z.enum(["pending", "running", "done", "failed", "cancelled"]),
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

/** In the "jobs" scored sets: every unfinished job, scored by when it is next due. */
const DUE = "due";
/** …and every job a user ever had, finished ones too, so /forget finds their records. */
const ofUser = (user: UserKey) => `user:${user}`;
/** The one JSON list of unfinished jobs, and the per-user lists, kept before scored sets. */
const LEGACY_INDEX = { namespace: "job-index", key: "active" };
const LEGACY_BY_USER = "user-jobs";
/** How long cancelling holds a job's lease it took over: only for the writes that stop it. */
const CANCEL_LEASE_MS = 10_000;

/** What one run under the lease leaves to do once the lease is given back. */
type RunOutcome = { again: JobRecord } | "ended" | "kept";

export class JobRunner implements JobQueue {
  protected readonly records: KeyValue<JobRecord>;
  /** DUE, and each user's jobs. */
  protected readonly sets: ScoredSets;
  private readonly legacyByUser: KeyValue<string[]>;
  /** Set once the list the jobs were kept in before has been moved into the scored sets. */
  private migrated = false;
  /** Where jobs' reports go (the engine); set once everything is wired. */
  reporter?: JobReporter;
  private readonly running = new Map<
    string,
    { user: UserKey; abort: AbortController; done: Promise<void> }
  >();
  private readonly handlers = new Map<string, AnyJobHandler>();
  protected stopping = false;
  private sweeper?: NodeJS.Timeout;
  /** Per kind with a concurrency: runs under way, and the turns of those waiting for one. */
  private readonly gates = new Map<string, { busy: number; turns: (() => void)[] }>();
  /** Jobs waiting for their next run here, by id. */
  private readonly timers = new Map<
    string,
    { user?: UserKey; timer: NodeJS.Timeout; at: number }
  >();

  /**
   * leaseMs: how long a job's lease outlives a process that died holding it; the
   * sweep picks such jobs up once their lease has run out. pendingMs: how old a
   * prepared job must be before the sweep asks whether its turn was saved.
   */
  constructor(
    protected readonly store: Store,
    protected readonly opts: { leaseMs?: number; sweepMs?: number; pendingMs?: number } = {},
  ) {
    this.records = collection(store, "jobs", JobRecord);
    this.sets = store.scored("jobs");
    this.legacyByUser = collection(store, LEGACY_BY_USER, z.array(z.string()));
  }

  /** One handler per kind; launch() checks a record's data and cursor with its own schemas. */
  register(handler: AnyJobHandler): void {
    this.handlers.set(handler.kind, handler);
  }

  newId(): string {
    return randomUUID();
  }

  /** Saves the job and starts it at once, for callers with no state to save in between. */
  async start(user: UserKey, request: { kind: string; id: string; data: unknown }): Promise<void> {
    const record = await this.save(user, request, "running");
    this.launch(record);
  }

  async prepare(user: UserKey, request: { kind: string; id: string; data: unknown }) {
    await this.save(user, request, "pending");
  }

  async begin(id: string): Promise<void> {
    // Under the job's lease, so a sweep beginning it too can't flip a finished run back.
    const record = await withLock(
      this.store.locks,
      `job:${id}`,
      async (_lost, fence) => {
        const found = await this.records.get(id);
        if (found?.status !== "pending") return found;
        const running: JobRecord = { ...found, status: "running", updatedAt: Date.now() };
        await this.records.setFenced(id, running, fence);
        return running;
      },
      { waitMs: 2_000 },
    ).catch((err: unknown) => {
      // Held: another process is beginning or running it already.
      if (err instanceof LockTimeoutError) return undefined;
      throw err;
    });
    if (record?.status === "running" && !this.running.has(id) && !this.timers.has(id)) {
      this.launch(record);
    }
  }

  private async save(
    user: UserKey,
    request: { kind: string; id: string; data: unknown },
    status: "pending" | "running",
  ): Promise<JobRecord> {
    const { kind, id, data } = request;
    const now = Date.now();
    const record: JobRecord = { id, user, kind, status, data, updatedAt: now };
    // The user's list first: a record /forget can't find would outlive the user.
    await this.sets.put(ofUser(user), id, now);
    await this.records.set(id, record);
    await this.sets.put(DUE, id, now);
    return record;
  }

  /** Resumes unfinished jobs now, and keeps looking for orphaned ones (a process that died) until stop(). */
  async startSweeping(): Promise<number> {
    const resumed = await this.resumeAll();
    const every = this.opts.sweepMs ?? 5_000;
    this.sweeper = setInterval(() => {
      // Only what is due by now: a later job is someone's timer, or found when it is due.
      this.resumeAll(0).catch((err) => log.warn("job sweep failed", { err }));
    }, every);
    this.sweeper.unref();
    return resumed;
  }

  /**
   * Every unfinished job due within `aheadMs`, started (or its timer set) here
   * unless another process holds it; and prepared jobs whose turn ended long ago,
   * begun or discarded.
   */
  async resumeAll(aheadMs = MAX_TIMER_MS): Promise<number> {
    if (!this.migrated) await this.migrateLegacyIndex();
    let resumed = 0;
    for (const { member: id, score } of await this.sets.scoresUpTo(DUE, Date.now() + aheadMs)) {
      if (this.running.has(id) || this.timers.has(id)) continue;
      // Due later: its record is read when it wakes (10,000 watches start without 10,000 reads).
      if (score > Date.now()) {
        this.wakeAt(id, score);
        continue;
      }
      const record = await this.records.get(id);
      if (record?.status !== "pending" && record?.status !== "running") {
        // Finished, cancelled or forgotten by a run that stopped before leaving the set.
        await this.sets.remove(DUE, id);
        continue;
      }
      if (record.status === "pending") {
        if (Date.now() - record.updatedAt >= (this.opts.pendingMs ?? 30_000)) {
          await this.settle(record);
        }
        continue;
      }
      if ((record.dueAt ?? 0) > Date.now()) this.schedule(record);
      else {
        this.resume(record);
        resumed += 1;
      }
    }
    return resumed;
  }

  /** A prepared job never begun: its turn failed after preparing it, or before beginning it. */
  private async settle(record: JobRecord): Promise<void> {
    if (!this.reporter) return;
    if (await this.reporter.wants(record.user, record.id)) {
      log.info("begun a job its turn left prepared", { job: record.id, kind: record.kind });
      await this.begin(record.id);
      return;
    }
    const discarded = await withLock(
      this.store.locks,
      `job:${record.id}`,
      async () => {
        const found = await this.records.get(record.id);
        if (found && found.status !== "pending") return false;
        if (found) await this.records.delete(record.id);
        return true;
      },
      { waitMs: 0 },
    ).catch((err: unknown) => {
      // Held: someone is beginning it after all; the next sweep looks again.
      if (err instanceof LockTimeoutError) return false;
      throw err;
    });
    if (!discarded) return;
    log.info("discarded a job its turn prepared but never saved", { job: record.id });
    await this.sets.remove(DUE, record.id);
    await this.sets.remove(ofUser(record.user), record.id);
  }

  /**
   * The one list every unfinished job was kept in before each had its own place
   * (and the per-user lists of their users), moved once into the scored sets.
   * Idempotent: two processes doing it at once add the same members.
   */
  private async migrateLegacyIndex(): Promise<void> {
    const legacy = collection(this.store, LEGACY_INDEX.namespace, z.array(z.string()));
    const ids = await legacy.get(LEGACY_INDEX.key);
    if (ids) {
      const users = new Set<UserKey>();
      for (const id of ids) {
        const record = await this.records.get(id);
        if (!record) continue;
        users.add(record.user);
        await this.sets.put(ofUser(record.user), id, record.updatedAt);
        await this.sets.put(DUE, id, record.dueAt ?? record.updatedAt);
      }
      for (const user of users) await this.takeLegacyUserList(user);
      await legacy.delete(LEGACY_INDEX.key);
      log.info("moved the job index into per-job entries", { jobs: ids.length });
    }
    this.migrated = true;
  }

  /** A user's job list from before the scored sets, moved into theirs; the ids it held. */
  private async takeLegacyUserList(user: UserKey): Promise<string[]> {
    const ids = (await this.legacyByUser.get(user)) ?? [];
    for (const id of ids) await this.sets.put(ofUser(user), id, 0);
    if (ids.length > 0) await this.legacyByUser.delete(user);
    return ids;
  }

  /** Runs the job at its due time (here: on a timer). */
  protected schedule(record: JobRecord): void {
    this.wakeAt(record.id, record.dueAt ?? 0, record.user);
  }

  /**
   * Looks at the job again at `at`, and runs it if it is due then. `user`, when known,
   * lets /cancel clear the timer at once (otherwise the wake finds it cancelled).
   */
  protected wakeAt(id: string, at: number, user?: UserKey): void {
    if (this.stopping) return;
    // The timer keeps only the id: wake() reads the record again, and holding the whole
    // record cost about 1 KB per waiting watch (bench/watch.ts).
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

  /** Resolves when the jobs can be reached (here: their records, in the store); throws why not. */
  async check(): Promise<void> {
    await this.records.get("healthz");
  }

  /** The job's saved record, for tests and benchmarks. */
  get(id: string): Promise<JobRecord | undefined> {
    return this.records.get(id);
  }

  async progress(id: string): Promise<unknown> {
    return (await this.records.get(id))?.progress;
  }

  /**
   * Stops every job of this user, here and in other processes: the lease of each
   * unfinished one is taken over (its runner's next save is refused) and its record
   * marked cancelled, or, with `forget`, deleted with every record the user had.
   */
  async cancelAll(user: UserKey, opts: { forget?: boolean } = {}): Promise<void> {
    // A list from before the scored sets is moved into them first, so none is missed.
    await this.takeLegacyUserList(user);
    const ids = new Set(await this.sets.upTo(ofUser(user), Number.POSITIVE_INFINITY));
    for (const job of this.running.values()) {
      if (job.user === user) {
        job.abort.abort(new JobCancelledError("cancelled"));
        await job.done;
      }
    }
    // After the runs here have ended: one that asked to run again has set its timer by now.
    for (const [id, waiting] of this.timers) {
      // A timer the sweep set doesn't know its user: it is found among the user's ids.
      if (waiting.user === user || ids.has(id)) {
        clearTimeout(waiting.timer);
        this.timers.delete(id);
      }
    }
    const unreadable = this.store.namespace(UNREADABLE);
    for (const id of ids) {
      const record = await this.records.get(id);
      if (record && record.user !== user) continue;
      if (record?.status === "pending" || record?.status === "running") {
        const lease = await this.store.locks.seize(`job:${id}`, CANCEL_LEASE_MS);
        try {
          if (opts.forget) await this.records.delete(id);
          else {
            const cancelled = { ...record, status: "cancelled" as const, updatedAt: Date.now() };
            await this.records.setFenced(id, cancelled, lease);
          }
        } finally {
          await this.store.locks.release(lease.lock, lease.token);
        }
      } else if (opts.forget) await this.records.delete(id);
      await this.sets.remove(DUE, id);
      await this.dropRuns(id);
      if (opts.forget) await unreadable.delete(`jobs:${id}`);
    }
    if (opts.forget) {
      await this.sets.drop(ofUser(user));
      await unreadable.delete(`${LEGACY_BY_USER}:${user}`);
    }
  }

  /**
   * A job's runs still queued, taken back once it has ended, been cancelled or forgotten
   * (here: its timer, cleared by cancelAll; a shared queue removes its delayed and waiting runs).
   */
  protected async dropRuns(_id: string): Promise<void> {}

  /**
   * When anything will next look at the job to run it: its place among the due jobs,
   * and runs queued for it (here: a timer in this process). Empty when nothing will.
   */
  async queuedRuns(id: string): Promise<number[]> {
    const due = await this.sets.scoresUpTo(DUE, Number.POSITIVE_INFINITY);
    const at = due.filter((d) => d.member === id).map((d) => d.score);
    const timer = this.timers.get(id);
    return timer ? [...at, timer.at] : at;
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

  /** When this process will next run the job, waiting for it (tests); undefined when it doesn't. */
  async scheduledAt(id: string): Promise<number | undefined> {
    return this.timers.get(id)?.at;
  }

  /** How many jobs wait here for a later run (the watcher bench reads it). */
  get waiting(): number {
    return this.timers.size;
  }

  /**
   * Runs a job the sweep found due and not running here: perhaps orphaned by a
   * process that died, perhaps running elsewhere (then its lease turns this run away).
   */
  protected resume(record: JobRecord): void {
    this.launch(record);
  }

  /** Runs the job now: here, in the in-process runner (a shared queue hands it to any process). */
  protected launch(record: JobRecord): void {
    void this.runHere(record);
  }

  /** One run of the job in this process; resolves when it has ended (it never rejects). */
  protected runHere(record: JobRecord): Promise<void> {
    const handler = this.handlers.get(record.kind);
    if (!handler || this.stopping) {
      if (!handler) log.error("no handler for job", { kind: record.kind, job: record.id });
      return Promise.resolve();
    }
    const abort = new AbortController();
    const done = this.execute(handler, record, abort).finally(() => this.running.delete(record.id));
    this.running.set(record.id, { user: record.user, abort, done });
    return done;
  }

  /** Is a run of this job under way in this process? */
  protected isRunningHere(id: string): boolean {
    return this.running.has(id);
  }

  /** The record's data and cursor, checked by the handler's schemas; undefined (and the job failed) when they don't fit. */
  private async open(handler: JobHandler, record: JobRecord, fence: Fence) {
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
      .namespace(UNREADABLE)
      .set(`jobs:${record.id}`, [
        { at: Date.now(), issue: issue?.message ?? "does not fit", value: record },
      ]);
    await this.records.setFenced(
      record.id,
      { ...record, status: "failed", updatedAt: Date.now() },
      fence,
    );
    return undefined;
  }

  /** One run: under the job's lease, then what the run left to do (wait, or leave the due set). */
  private async execute(
    handler: JobHandler,
    given: JobRecord,
    abort: AbortController,
  ): Promise<void> {
    const record = given;
    const limit = handler.concurrency;
    const turn = limit === undefined ? "now" : await this.turn(handler.kind, limit, abort.signal);
    if (turn === "aborted") return;
    try {
      const outcome = await withLock(
        this.store.locks,
        `job:${record.id}`,
        (leaseLost, fence) => this.runOnce(handler, record, abort, leaseLost, fence),
        { waitMs: 0, ttlMs: this.opts.leaseMs ?? 15_000 },
      );
      if (outcome === "ended") {
        await this.sets.remove(DUE, record.id);
        await this.dropRuns(record.id);
      } else if (outcome !== "kept") this.schedule(outcome.again);
    } catch (err) {
      if (err instanceof LockTimeoutError) return; // another process runs it
      if (err instanceof FencedOutError) {
        log.warn("job taken over by another process; this run stops", { job: record.id });
        return;
      }
      if (err instanceof StoreUnavailableError) {
        // The record says where it got to; the sweep runs it again once the store answers.
        log.warn("job paused: the store is unavailable", { kind: record.kind, job: record.id });
        return;
      }
      log.error("job run failed", { kind: record.kind, job: record.id, err });
    } finally {
      if (limit !== undefined) this.leave(handler.kind);
    }
  }

  /**
   * A run's write to its record, fenced by its lease. /cancel, here or in another
   * process, takes the lease over before marking the record, so the status need not
   * be read before each write: a refused write tells, and only then is it read.
   */
  private async saveFenced(record: JobRecord, fence: Fence): Promise<void> {
    try {
      await this.records.setFenced(record.id, record, fence);
    } catch (err) {
      if (!(err instanceof FencedOutError)) throw err;
      const now = await this.records.get(record.id);
      if (now?.status !== "running") throw new JobCancelledError("cancelled");
      throw err;
    }
  }

  /** Waits for a run of this kind to be allowed: at once, after waiting, or aborted meanwhile. */
  private async turn(
    kind: string,
    limit: number,
    signal: AbortSignal,
  ): Promise<"now" | "waited" | "aborted"> {
    const gate = this.gates.get(kind) ?? { busy: 0, turns: [] };
    this.gates.set(kind, gate);
    if (gate.busy < limit) {
      gate.busy += 1;
      return "now";
    }
    const given = await new Promise<boolean>((resolve) => {
      const go = () => {
        signal.removeEventListener("abort", give);
        resolve(true);
      };
      // Aborted while waiting: its place in the line goes, and so does it.
      const give = () => {
        gate.turns.splice(gate.turns.indexOf(go), 1);
        resolve(false);
      };
      signal.addEventListener("abort", give, { once: true });
      gate.turns.push(go);
    });
    if (given && signal.aborted) this.leave(kind);
    return given && !signal.aborted ? "waited" : "aborted";
  }

  /** A run of this kind ended: the next waiting one goes (the count passes to it). */
  private leave(kind: string): void {
    const gate = this.gates.get(kind);
    if (!gate) return;
    const next = gate.turns.shift();
    if (next) next();
    else gate.busy -= 1;
  }

  private async runOnce(
    handler: JobHandler,
    given: JobRecord,
    abort: AbortController,
    leaseLost: AbortSignal,
    fence: Fence,
  ): Promise<RunOutcome> {
    // Read again under the lease: what was read before it (a wake, a sweep, a turn waited
    // for) may be stale, run meanwhile or cancelled. From here on a cancel fences us out.
    const record = await this.records.get(given.id);
    if (record?.status !== "running") return "kept";
    if ((record.dueAt ?? 0) > Date.now()) return { again: record };
    const job = await this.open(handler, record, fence);
    if (!job) return "ended";
    const signal = AbortSignal.any([abort.signal, leaseLost]);
    let current = record;
    const control: JobControl<unknown, unknown, unknown> = {
      signal,
      save: async (cursor, progress) => {
        const next = {
          ...current,
          cursor,
          progress: progress ?? current.progress,
          updatedAt: Date.now(),
        };
        await this.saveFenced(next, fence);
        current = next;
      },
      report: async (event) => {
        if (!this.reporter) throw new Error("jobs have no reporter");
        // The handler's events are its kind's (see model/jobs.ts and registry.ts).
        const input = { kind: "job", job: record.kind, id: record.id, ...(event as object) };
        return this.reporter.report(record.user, input as JobInput);
      },
      wanted: async () => {
        if (!this.reporter) throw new Error("jobs have no reporter");
        return this.reporter.wants(record.user, record.id);
      },
    };
    try {
      // A lease the job waited for inside its work (a user's, the index) is a failure of
      // this run, not "another process runs this job": only our own lease means that.
      const result = await handler.run(job, control).catch((err: unknown) => {
        throw err instanceof LockTimeoutError
          ? new Error("a lock inside the job timed out", { cause: err })
          : err;
      });
      if (result && "again" in result) {
        const again = { ...current, dueAt: result.again, updatedAt: Date.now() };
        await this.saveFenced(again, fence);
        await this.sets.put(DUE, record.id, result.again);
        return { again };
      }
      await this.saveFenced({ ...current, status: "done", updatedAt: Date.now() }, fence);
      return "ended";
    } catch (err) {
      // Cancelled (here or elsewhere), or shutting down: the record stays as it is.
      if (err instanceof JobCancelledError || abort.signal.aborted) return "kept";
      if (err instanceof FencedOutError || leaseLost.aborted) {
        log.warn("job taken over by another process; this run stops", {
          kind: record.kind,
          job: record.id,
        });
        return "kept";
      }
      if (err instanceof StoreUnavailableError) throw err;
      log.error("job failed", { kind: record.kind, job: record.id, err });
      if (handler.retryAfterErrorMs !== undefined && !this.stopping) {
        // Work that must not die of one bad moment (the watch): try again later, from what it saved.
        const latest = (await this.records.get(record.id)) ?? current;
        const retry = {
          ...latest,
          dueAt: Date.now() + handler.retryAfterErrorMs,
          updatedAt: Date.now(),
        };
        await this.records.setFenced(record.id, retry, fence);
        await this.sets.put(DUE, record.id, retry.dueAt);
        return { again: retry };
      }
      await this.records.setFenced(
        record.id,
        { ...record, status: "failed", updatedAt: Date.now() },
        fence,
      );
      return "ended";
    }
  }
}
