/**
 * Long work as the engine sees it: prepare a job before the state that names it
 * is saved, let it run once that state is saved, stop a user's jobs, read how far
 * one has come. The in-process runner implements it; a shared queue (BullMQ) can
 * implement the same interface.
 *
 * A job reports what happened through a JobReporter (the engine), as input for
 * the step the user is at; it never changes a user's state or words a reply itself.
 */
import type { z } from "zod";
import type { UserKey } from "../chat/conversation.js";
import type { JobInput } from "../model/jobs.js";

export interface JobQueue {
  /**
   * Saves the job, not yet to be run: a turn that fails before its state is saved
   * leaves a prepared job nobody waits for, which the sweep discards (see
   * JobReporter.wants), never a saved state naming a job that doesn't exist.
   */
  prepare(user: UserKey, request: { kind: string; id: string; data: unknown }): Promise<void>;
  /** Lets a prepared job run, starting it here; call once the state that names it is saved. */
  begin(id: string): Promise<void>;
  /**
   * Stops every job of this user, here and in other processes sharing the store;
   * `forget` deletes their records too, finished ones included.
   */
  cancelAll(user: UserKey, opts?: { forget?: boolean }): Promise<void>;
  /** What the job last saved as its progress, unchecked (the reader knows its kind's schema). */
  progress(id: string): Promise<unknown>;
}

/** "taken": the user's step took the report. "stale": nobody waits for it any more; stop. */
export type ReportAck = "taken" | "stale";

export interface JobReporter {
  report(user: UserKey, input: JobInput): Promise<ReportAck>;
  /**
   * Does the user's saved state wait for this job? Asked about a job prepared
   * long ago and never begun: yes, it is begun; no, it is discarded.
   */
  wants(user: UserKey, id: string): Promise<boolean>;
}

/** A job as its handler receives it: the data a step started it with, and its own resume point. */
export interface Job<D, C> {
  readonly id: string;
  readonly user: UserKey;
  readonly kind: string;
  readonly data: D;
  /** What the job saved last time it ran here or elsewhere; absent on its first run. */
  readonly cursor?: C;
}

export interface JobControl<C, E, P> {
  readonly signal: AbortSignal;
  /**
   * Saves the resume point, only while this run still holds the job's lease.
   * Throws JobCancelledError when the user cancelled meanwhile (perhaps in another
   * process), FencedOutError when another process has taken the job over.
   */
  save(cursor: C, progress?: P): Promise<void>;
  /** Tells the user's step what happened. Progress and waits may be dropped while the user is busy. */
  report(event: E): Promise<ReportAck>;
  /**
   * Does the user's saved state still wait for this job? For a job with nothing to report for
   * a long time, to stop once the user has moved on (a step can end a wait without it).
   */
  wanted(): Promise<boolean>;
}

export interface JobHandler<D = unknown, C = unknown, E = unknown, P = unknown> {
  readonly kind: string;
  /** The data it is started with, checked on every read of the record. */
  readonly data: z.ZodType<D>;
  /** Its resume point, checked likewise. */
  readonly cursor: z.ZodType<C>;
  /**
   * Set: at most this many runs of this kind at once in one process; the others wait
   * their turn, holding nothing (ten thousand watches due at once would otherwise all
   * start, open as many requests, and time out in the queue behind each other).
   */
  readonly concurrency?: number;
  /** Set: an unexpected error reschedules the job this much later instead of failing it. */
  readonly retryAfterErrorMs?: number;
  /** Resolves when the work is done, or with `{ again }` to run once more at that time. */
  run(job: Job<D, C>, control: JobControl<C, E, P>): Promise<undefined | { again: number }>;
}

/** Any handler, as the runner keeps them: it checks each record with the handler's own schemas. */
// biome-ignore lint/suspicious/noExplicitAny: the runner is generic over every job's types.
export type AnyJobHandler = JobHandler<any, any, any, any>;

export class JobCancelledError extends Error {}
