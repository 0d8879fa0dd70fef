/**
 * The journey's long work, as the steps and the jobs both see it: what a step
 * asks for (a kind and its data), how far the work has come (its progress, which
 * /status reads), and what the work reports back (its events). Steps start jobs
 * with a JobRequest and receive their reports as input, so every state change
 * and every sentence stays in the steps; the jobs only do the work.
 */
import { z } from "zod";
import type { Snapshot, SnapshotPart } from "./snapshot.js";
import { type ImportReport, OldAccount, Target, type TransferResult } from "./state.js";

export const WatchRequest = z.object({
  /** The old server's API origin; the account is looked up by username there. */
  origin: z.string(),
  username: z.string(),
  /** The old account's domain, as in its handle (old.example). */
  domain: z.string().optional(),
  startedAt: z.number(),
  /**
   * The new account (its token sealed), to count from there when the old server can't be
   * read. Absent in watches started before it was kept.
   */
  target: Target.optional(),
});
export type WatchRequest = z.infer<typeof WatchRequest>;

/** What each kind of job is started with. Saved with the job and checked on every read. */
export const JobData = {
  snapshot: z.object({
    old: OldAccount,
    /** The counts the profile showed at sign-in, for "N of M" while saving. */
    following: z.number().nullable(),
    followers: z.number(),
  }),
  "import-follows": z.object({ target: Target }),
  reminder: z.object({ at: z.number() }),
  "move-poll": z.object({ until: z.number() }),
  watch: WatchRequest,
  "forget-later": z.object({ at: z.number() }),
} as const;

export type JobKind = keyof typeof JobData;
export const JOB_KINDS = Object.keys(JobData) as JobKind[];

/** Long work a step asks for, to start once the state that names it is saved. */
export type JobRequest = {
  [K in JobKind]: {
    readonly kind: K;
    readonly id: string;
    readonly data: z.infer<(typeof JobData)[K]>;
  };
}[JobKind];
export type JobDataOf<K extends JobKind> = z.infer<(typeof JobData)[K]>;

/** How far a transfer watch has seen the followers go on the old account; /status draws it. */
export const CountedProgress = z.object({
  /** Followers when the Move was made (the snapshot's count, or the first count seen). */
  initial: z.number(),
  first: z.object({ at: z.number(), count: z.number() }),
  last: z.object({ at: z.number(), count: z.number() }),
  /** The biggest servers among those still on the old account, from the last list read. */
  remaining: z
    .object({
      total: z.number(),
      servers: z.array(z.tuple([z.string(), z.number()])),
      at: z.number(),
    })
    .optional(),
  /** The old server hides the followers list: only the count is known. */
  hidden: z.boolean().optional(),
});

/**
 * What /status draws of a watch: the old account's count; or, when nothing there can be read,
 * the new account's growth since the watch began (where its API has a count), or only that
 * nothing can be counted. A record saved before these two existed is the first kind.
 */
export const WatchProgress = z.union([
  z.object({
    from: z.literal("new"),
    atStart: z.number(),
    last: z.object({ at: z.number(), count: z.number() }),
  }),
  z.object({ from: z.literal("uncounted") }),
  CountedProgress,
]);
export type WatchProgress = z.infer<typeof WatchProgress>;

/** How far the snapshot and the import have come: items gone through, of how many. */
export const Counted = z.object({ done: z.number(), total: z.number().optional() });
export type Counted = z.infer<typeof Counted>;

/** One account the import could not follow, and why, for not-followed.csv. */
export interface ImportFailure {
  acct: string;
  result: "not found" | "refused" | "failed";
  reason: string;
}

/** What a server following a Move is known to do, for the finished message's "likely reason". */
export type StayedReason =
  | { kind: "old-server" }
  | { kind: "software"; name: string; support: "yes" | "no" | "unknown"; note: string }
  | { kind: "not-answering" }
  | { kind: "unknown" };

/**
 * What each kind of job reports. "progress" and "waiting" may be dropped when
 * the user is busy (the next one comes soon); every other event is delivered.
 * Errors travel as they were thrown, for the step to explain in its own words.
 */
export interface JobEvents {
  snapshot:
    | {
        event: "progress";
        part: SnapshotPart | "done";
        follows: number;
        followers: number;
        /** What the profile counted at sign-in (follows can be hidden: null). */
        of: { follows: number | null; followers: number };
      }
    | { event: "waiting"; until: number }
    | { event: "saved"; snapshot: Snapshot }
    | { event: "failed"; error: unknown };
  "import-follows":
    | { event: "progress"; done: number; total: number; etaMs: number | null }
    | { event: "waiting"; until: number }
    | { event: "done"; report: ImportReport; failures: ImportFailure[] }
    /**
     * The server stopped the import; what is done stays done. `started`: anything was tried.
     * `error` a TokenRejectedError (clients/new-account.ts): the server no longer takes the
     * token, and only a new one helps.
     */
    | { event: "stopped"; left: number; already: number; started: boolean; error: unknown };
  reminder: { event: "due" };
  "move-poll": { event: "tick" } | { event: "ended" };
  watch:
    | { event: "milestone"; percent: number; moved: number; initial: number }
    /**
     * Nothing on the old server can be read to count the followers: its API wants a user
     * (`api`) and its ActivityPub actor or followers collection wants a signature the bot can't
     * make, or refuses it (`activitypub`). Reported once; the watch goes on trying.
     */
    | {
        event: "unreadable";
        api: string;
        activitypub: string;
        signs: boolean;
        /** The new account's own follower count can be read: the watch counts from there. */
        newSide?: boolean;
      }
    | {
        event: "finished";
        result: TransferResult;
        /** Everyone still on the old account, by handle; null when the server hides the list. */
        stayed: string[] | null;
        /**
         * The list is only its first pages: the whole of it is more than the old server's
         * hourly budget lets the watch read at once.
         */
        partial?: boolean;
        /** Servers of those who stayed, most first, with what is known of each. */
        servers: { host: string; count: number; reason: StayedReason }[];
      };
  "forget-later": { event: "due" };
}

/** A job's report as a step receives it: which job, and what happened. */
export type JobInput = {
  [K in JobKind]: { readonly kind: "job"; readonly job: K; readonly id: string } & JobEvents[K];
}[JobKind];

/** Events a busy user may miss without harm: another comes within seconds. */
export const DROPPABLE_EVENTS: ReadonlySet<string> = new Set(["progress", "waiting"]);
