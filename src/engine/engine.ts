/**
 * The engine every channel shares: per-user lock → load state → run one step →
 * save → reply. Replies are delivered while the lock is still held, after the
 * save, so a second message from the same user waits for the first to be fully
 * answered, and nothing said to a user is ever ahead of what is stored.
 *
 * Jobs report here too (JobReporter): a report is input for the step the user
 * is at, run under the same lock, so every state change and every sentence is
 * a step's. A report for a job the state no longer waits for is stale: it
 * changes nothing and tells the job to stop.
 */

import type { z } from "zod";
import { type ChannelsOf, FULL_CHANNEL } from "../chat/channel.js";
import {
  type Input,
  type Notifier,
  RecipientGoneError,
  type Reply,
  say,
  type UserKey,
} from "../chat/conversation.js";
import { n } from "../chat/text.js";
import type { World } from "../clients/world.js";
import type { JobQueue, JobReporter, ReportAck } from "../jobs/queue.js";
import { log } from "../log.js";
import { Counted, DROPPABLE_EVENTS, type JobInput, WatchProgress } from "../model/jobs.js";
import { awaiting, type Saved, STATE_VERSION, type State } from "../model/state.js";
import { stepOf } from "../steps/index.js";
import type { StepContext, StepInput } from "../steps/step.js";
import type { Sealer } from "../store/seal.js";
import type { KeyValue, Store } from "../store/store.js";
import { savedStates, snapshots, USER_NAMESPACES } from "../store/user-data.js";
import { LockTimeoutError, withLock } from "../store/with-lock.js";
import { type Change, command } from "./commands.js";

/** Longer than anything a step asks for; past this a message is junk, not an answer. */
export const MAX_TEXT = 2000;
const HISTORY = 20;
/** The user's lease: short, with a heartbeat while held, so a killed process delays the next message little. */
const USER_LEASE_MS = 10_000;
/** How long a progress report waits for a busy user before it is dropped (another comes soon). */
const DROPPABLE_WAIT_MS = 1_000;

export interface Turn {
  replies: readonly Reply[];
  /** The saved state's stamp, for the buttons in these replies. */
  seq: number;
  /** The user's message carried a secret: delete it where the channel can. */
  secret: boolean;
  /** For input from outside the chat: done, failed, or stale (nobody waited for it). */
  ack: "done" | "failed" | "stale";
}

export interface EngineDeps {
  store: Store;
  sealer: Sealer;
  world: World;
  jobs: JobQueue;
  notifier?: Notifier;
  now?: () => number;
  /** The length of a reminder's day; tests and the demo compress it. */
  dayMs?: number;
  /** How long data is kept after the finished message (30 days). */
  forgetAfterMs?: number;
}

/** A job's progress when it has the shape its kind saves; nothing otherwise. */
function parsedOrNone<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export class Engine implements JobReporter {
  private readonly saved: KeyValue<Saved>;
  private readonly now: () => number;
  notifier?: Notifier;
  /** The traits of each user's channel (set by the app); Telegram's and the terminal's by default. */
  channels: ChannelsOf = () => FULL_CHANNEL;

  constructor(private readonly deps: EngineDeps) {
    this.saved = savedStates(deps.store);
    this.now = deps.now ?? Date.now;
    this.notifier = deps.notifier;
  }

  /**
   * One message (or a return from a sign-in page) from one user. `deliver` is
   * called with the replies once the new state is saved, still under the user's
   * lock; without it they go out through the notifier.
   */
  receive(user: UserKey, input: Input, deliver?: (turn: Turn) => Promise<void>): Promise<Turn> {
    return this.locked(user, () => this.run(user, input, deliver ?? this.notify(user)));
  }

  /** A job's report, as input for the step the user is at. */
  async report(user: UserKey, input: JobInput): Promise<ReportAck> {
    const droppable = DROPPABLE_EVENTS.has(input.event);
    try {
      const turn = await withLock(
        this.deps.store.locks,
        `user:${user}`,
        () => this.run(user, input, this.notify(user)),
        { ttlMs: USER_LEASE_MS, ...(droppable ? { waitMs: DROPPABLE_WAIT_MS } : {}) },
      );
      return turn.ack === "stale" ? "stale" : "taken";
    } catch (err) {
      if (droppable && err instanceof LockTimeoutError) return "taken";
      if (err instanceof RecipientGoneError) {
        // Nobody will read this user's messages again: keep nothing. Not awaited here: the
        // job reporting waits for this call, and stopping the user's jobs waits for the job.
        log.info("user unreachable; forgetting", { user });
        void this.forget(user).catch((e: unknown) => log.error("forget failed", { user, err: e }));
        return "stale";
      }
      throw err;
    }
  }

  /** The saved state, for tests and benchmarks. */
  async state(user: UserKey): Promise<State | undefined> {
    return (await this.saved.get(user))?.state;
  }

  /** Deletes what is kept about a user and stops their jobs (/forget, or a user gone for good). */
  async forget(user: UserKey): Promise<void> {
    await this.deps.jobs.cancelAll(user, { forget: true });
    await this.forgetData(user);
  }

  private async forgetData(user: UserKey): Promise<void> {
    for (const name of USER_NAMESPACES) await this.deps.store.namespace(name).delete(user);
  }

  private locked<T>(user: UserKey, fn: () => Promise<T>): Promise<T> {
    return withLock(this.deps.store.locks, `user:${user}`, fn, { ttlMs: USER_LEASE_MS });
  }

  private notify(user: UserKey) {
    return async (turn: Turn) => {
      if (turn.replies.length > 0) await this.notifier?.notify(user, turn.replies, turn.seq);
    };
  }

  /** Under the user's lock: load, run the step, save, deliver. */
  private async run(
    user: UserKey,
    input: StepInput,
    deliver: (turn: Turn) => Promise<void>,
  ): Promise<Turn> {
    const before = await this.saved.get(user);
    const ctx = this.context(user);
    const change = await this.turn(before, input, ctx);
    if (change === "stale")
      return { replies: [], seq: before?.seq ?? 0, secret: false, ack: "stale" };
    const after = await this.commit(user, before, change, input.kind === "job");
    const turn: Turn = {
      replies: change.replies,
      seq: after?.seq ?? 0,
      secret: change.secret === true,
      ack: change.ack ?? "done",
    };
    await deliver(turn);
    return turn;
  }

  private context(user: UserKey): StepContext {
    return {
      user,
      channel: this.channels(user),
      sealer: this.deps.sealer,
      world: this.deps.world,
      now: this.now,
      snapshots: snapshots(this.deps.store),
      dayMs: this.deps.dayMs ?? 24 * 60 * 60_000,
      forgetAfterMs: this.deps.forgetAfterMs ?? 30 * 24 * 3_600_000,
      counted: async (id) => parsedOrNone(Counted, await this.deps.jobs.progress(id)),
      watched: async (id) => parsedOrNone(WatchProgress, await this.deps.jobs.progress(id)),
    };
  }

  private async turn(
    saved: Saved | undefined,
    input: StepInput,
    ctx: StepContext,
  ): Promise<Change | "stale"> {
    const state: State = saved?.state ?? { step: "welcome" };
    const step = stepOf(state);
    const prompt = async () => step.enter(state, ctx);

    // From outside the chat: only for the state that waits for it.
    if (input.kind === "job") {
      return saved && awaiting(state).jobs.includes(input.id)
        ? this.handled(state, input, ctx)
        : "stale";
    }
    if (input.kind === "signed-in") {
      return saved && awaiting(state).signIn === input.state
        ? this.handled(state, input, ctx)
        : "stale";
    }

    if (input.kind === "command") {
      return command({ saved, state, name: input.name, ctx, jobs: this.deps.jobs });
    }
    // A button can stand for a command ("Forget now" is /forget): the same path, the same effect.
    if (
      input.kind === "choice" &&
      input.id.startsWith("/") &&
      (saved === undefined || input.seq === undefined || input.seq === saved.seq)
    ) {
      return command({ saved, state, name: input.id.slice(1), ctx, jobs: this.deps.jobs });
    }
    if (!saved) {
      // A first message that isn't /start: start anyway, but answer what was said.
      return { state, replies: await prompt() };
    }
    if (input.kind === "choice" && input.seq !== undefined && input.seq !== saved.seq) {
      return {
        state,
        replies: [
          say(["That button belongs to an earlier message. Here's where we are:"]),
          ...(await prompt()),
        ],
      };
    }
    if (input.kind === "text" && input.text.length > MAX_TEXT) {
      return {
        state,
        replies: [
          say([
            `That's ${n(input.text.length)} characters — far more than I need here. Nothing changed.`,
          ]),
          ...(await prompt()),
        ],
      };
    }
    if (input.kind === "other") {
      return {
        state,
        replies: [say([`I can't use ${input.what} here. Nothing changed.`]), ...(await prompt())],
      };
    }
    return this.handled(state, input, ctx);
  }

  /** The step handles the input; moving to another step adds what that step says on arrival. */
  private async handled(state: State, input: StepInput, ctx: StepContext): Promise<Change> {
    const outcome = await stepOf(state).handle(state, input, ctx);
    if (outcome.state.step === state.step || outcome.forget) return outcome;
    const entry = await stepOf(outcome.state).enter(outcome.state, ctx);
    return { ...outcome, replies: [...outcome.replies, ...entry] };
  }

  /**
   * Saves the change and starts its jobs. `fromJob`: a job is waiting for this
   * call, so forgetting must not wait for that job to stop.
   */
  private async commit(
    user: UserKey,
    before: Saved | undefined,
    change: Change,
    fromJob: boolean,
  ): Promise<Saved | undefined> {
    if (change.forget) {
      if (fromJob) {
        await this.forgetData(user);
        void this.deps.jobs
          .cancelAll(user, { forget: true })
          .catch((err: unknown) => log.error("stopping jobs failed", { user, err }));
      } else await this.forget(user);
      return undefined;
    }
    if (before && !change.history && JSON.stringify(before.state) === JSON.stringify(change.state))
      return before;
    const pushed =
      before && before.state.step !== change.state.step
        ? [...before.history, before.state]
        : (before?.history ?? []);
    const next: Saved = {
      v: STATE_VERSION,
      seq: (before?.seq ?? 0) + 1,
      state: change.state,
      history: (change.history ?? pushed).slice(-HISTORY),
      updatedAt: this.now(),
    };
    await this.saved.set(user, next);
    for (const job of change.jobs ?? []) await this.deps.jobs.start(user, job);
    return next;
  }
}
