/**
 * The engine every channel shares: per-user lock → load state → run one step →
 * save → reply. Replies are delivered while the lock is still held, after the
 * save, so a second message from the same user waits for the first to be fully
 * answered, and nothing said to a user is ever ahead of what is stored.
 *
 * The replies are saved in the same fenced write as the state (the outbox) and
 * taken out once the channel has them: a process killed in between, or a send
 * that failed, leaves them to be delivered before the user's next turn or by the
 * sweep (deliverPending) — under their message id, so a channel that can tell
 * delivers each at most once. A failed send never fails the turn it answers.
 *
 * Jobs report here too (JobReporter): a report is input for the step the user
 * is at, run under the same lock, so every state change and every sentence is
 * a step's. A report for a job the state no longer waits for is stale: it
 * changes nothing and tells the job to stop.
 *
 * The save is fenced by the user's lease: a turn that stalled past its lease
 * while another process took the user over is refused (FencedOutError), and its
 * replies are never delivered. A store that can't be reached fails the turn
 * before anything is saved, and the user is told so.
 */

import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { type ChannelsOf, FULL_CHANNEL } from "../chat/channel.js";
import {
  DeliveredElsewhereError,
  type DeliveryProgress,
  type Input,
  type Notifier,
  RecipientGoneError,
  type Reply,
  say,
  type UserKey,
} from "../chat/conversation.js";
import { type Credential, credentialAnywhere } from "../chat/credentials.js";
import { n } from "../chat/text.js";
import { PENDING_SIGN_INS } from "../clients/sign-in.js";
import type { World } from "../clients/world.js";
import type { JobQueue, JobReporter, ReportAck } from "../jobs/queue.js";
import { log } from "../log.js";
import { metrics } from "../metrics.js";
import { Counted, DROPPABLE_EVENTS, type JobInput, WatchProgress } from "../model/jobs.js";
import { OUTBOX_MAX, type OutboxEntry } from "../model/outbox.js";
import {
  awaiting,
  HANDLED_MAX,
  Moving,
  type Saved,
  STATE_VERSION,
  type State,
} from "../model/state.js";
import { stepOf } from "../steps/index.js";
import type { StepContext, StepInput } from "../steps/step.js";
import { UNREADABLE } from "../store/collection.js";
import { FencedOutError, StoreUnavailableError } from "../store/errors.js";
import type { Sealer } from "../store/seal.js";
import type { Fence, KeyValue, Store } from "../store/store.js";
import { savedStates, snapshots, USER_NAMESPACES } from "../store/user-data.js";
import { LockTimeoutError, withLock } from "../store/with-lock.js";
import { type Change, command } from "./commands.js";
import { fromStored, OutboxIndex, toStored } from "./outbox.js";

/** Longer than anything a step asks for; past this a message is junk, not an answer. */
export const MAX_TEXT = 2000;
const HISTORY = 20;
/** The user's lease: short, with a heartbeat while held, so a killed process delays the next message little. */
const USER_LEASE_MS = 10_000;
/** How long a progress report waits for a busy user before it is dropped (another comes soon). */
const DROPPABLE_WAIT_MS = 1_000;
/** The answer when the store can't be reached: the turn stopped before saving anything. */
const STORE_DOWN = say([
  "I can't reach my storage right now — try again in a minute. Nothing changed.",
]);

/**
 * The answer to a credential pasted where none was asked for. Where the chat can't carry
 * secrets (a direct message), the bot can't delete it either: the person is asked to.
 */
function misplacedSecret(kind: Credential, deletable: boolean): string {
  const what = {
    microblog: "a micro.blog app token",
    mastodon: "an access token",
    "code-or-token": "an access token or a sign-in code",
  }[kind];
  const revoke =
    kind === "microblog"
      ? "To be safe, revoke it at micro.blog → Account → Edit Apps."
      : `${kind === "mastodon" ? "To be safe, revoke it" : "If it was a token, revoke it to be safe"}: Preferences → Development (or Account → Authorized apps).`;
  const gone = deletable
    ? "so I haven't kept it and I've deleted your message."
    : "so I haven't kept it. I can't delete it here: please delete your message.";
  return `That looks like ${what}, and I'm not asking for one here, ${gone} ${revoke} Nothing changed.`;
}

export interface Turn {
  /** The message id these replies are delivered under, at most once where the channel can tell. */
  id?: string;
  replies: readonly Reply[];
  /** The saved state's stamp, for the buttons in these replies. */
  seq: number;
  /** The user's message carried a secret: delete it where the channel can. */
  secret: boolean;
  /** For input from outside the chat: done, failed, or stale (nobody waited for it). */
  ack: "done" | "failed" | "stale";
  /** False: the channel failed to deliver them; they wait in the outbox and go out later. */
  delivered?: boolean;
  /** Saves how many of the replies went out (kept in the outbox), for a channel that sends them one by one. */
  progress?: DeliveryProgress;
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
  /** The user's lease (10 s, renewed while a turn runs); tests shorten it. */
  userLeaseMs?: number;
}

/** A message that looks like a token or a code: one word, long enough, or a known token shape. */
function mayHoldSecret(input: StepInput): boolean {
  return (
    input.kind === "text" &&
    (credentialAnywhere(input.text) !== undefined || /^\S{16,}$/.test(input.text.trim()))
  );
}

/** Whether the input with this source id had its turn saved already (its replies may still wait). */
function wasHandled(saved: Saved | undefined, source: string): boolean {
  return (
    saved !== undefined &&
    (saved.handled?.includes(source) === true ||
      saved.outbox?.some((e) => e.id === source) === true)
  );
}

/** A job's progress when it has the shape its kind saves; nothing otherwise. */
function parsedOrNone<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export class Engine implements JobReporter {
  private readonly saved: KeyValue<Saved>;
  private readonly now: () => number;
  private readonly outboxIndex: OutboxIndex;
  private sweeper?: NodeJS.Timeout;
  notifier?: Notifier;
  /** The traits of each user's channel (set by the app); Telegram's and the terminal's by default. */
  channels: ChannelsOf = () => FULL_CHANNEL;

  constructor(private readonly deps: EngineDeps) {
    this.saved = savedStates(deps.store);
    this.outboxIndex = new OutboxIndex(deps.store);
    this.now = deps.now ?? Date.now;
    this.notifier = deps.notifier;
  }

  /**
   * One message (or a return from a sign-in page) from one user. `deliver` is
   * called with the replies once the new state is saved, still under the user's
   * lock; without it they go out through the notifier.
   *
   * `source`: the channel's own id for this input (Telegram's update_id, a DM's status id),
   * wherever the channel may hand the same input over again — a Telegram update whose offset
   * wasn't confirmed before a kill, a webhook retried, a notification read again. The ids
   * handled lately are saved with the state, in the same fenced write, and the turn's replies
   * are kept under it: an input handed over again is answered from the outbox while its
   * replies wait there, and otherwise dropped — never run twice.
   */
  async receive(
    user: UserKey,
    input: Input,
    deliver?: (turn: Turn) => Promise<void>,
    source?: string,
  ): Promise<Turn> {
    const send = deliver ?? this.notify(user);
    const timer = metrics.turnSeconds.startTimer();
    try {
      const turn = await this.locked(user, (fence) => this.run(user, input, send, fence, source));
      metrics.turns.inc({ outcome: turn.ack });
      return turn;
    } catch (err) {
      metrics.turns.inc({ outcome: err instanceof StoreUnavailableError ? "store-down" : "error" });
      if (!(err instanceof StoreUnavailableError)) throw err;
      log.warn("turn stopped: the store is unavailable", { user, err });
      // A message may have held a secret; unsure, the channel deletes it.
      const turn: Turn = {
        replies: [STORE_DOWN],
        seq: 0,
        secret: input.kind === "text",
        ack: "failed",
      };
      await send(turn);
      return turn;
    } finally {
      timer();
    }
  }

  /** A job's report, as input for the step the user is at. */
  async report(user: UserKey, input: JobInput): Promise<ReportAck> {
    const droppable = DROPPABLE_EVENTS.has(input.event);
    const turn = () =>
      withLock(
        this.deps.store.locks,
        `user:${user}`,
        (_lost, fence) => this.run(user, input, this.notify(user), fence),
        { ttlMs: this.leaseMs, ...(droppable ? { waitMs: DROPPABLE_WAIT_MS } : {}) },
      );
    try {
      // A turn that lost the user to another process saved nothing and said nothing; what
      // the job reports is still news, so it is taken again from what is saved now (unlike
      // a user's message, whose place among their other messages would change).
      const taken = await turn().catch((err: unknown) => {
        if (!(err instanceof FencedOutError)) throw err;
        log.warn("report's turn lost the user's lease; taking it again", { user });
        return turn();
      });
      if (input.event === "finished" && taken.ack !== "stale") metrics.migrations.inc();
      return taken.ack === "stale" ? "stale" : "taken";
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

  /** Does the user's saved state wait for this job? (A job prepared by a turn that ended half-way.) */
  async wants(user: UserKey, id: string): Promise<boolean> {
    return this.locked(user, async () => {
      const saved = await this.saved.get(user);
      return saved !== undefined && awaiting(saved.state).jobs.includes(id);
    });
  }

  /** The saved state, for tests and benchmarks. */
  async state(user: UserKey): Promise<State | undefined> {
    return (await this.saved.get(user))?.state;
  }

  /** Deletes what is kept about a user and stops their jobs (a user gone for good). */
  async forget(user: UserKey): Promise<void> {
    const saved = await this.saved.get(user);
    await this.revoke(user, saved);
    await this.deps.jobs.cancelAll(user, { forget: true });
    await this.forgetData(user, saved);
  }

  /**
   * Revokes the tokens the user's states hold, best effort: once their data is
   * deleted, nobody could revoke them any more. States with a new account hold
   * both tokens; revokeAll knows which of them can be revoked.
   */
  private async revoke(user: UserKey, saved: Saved | undefined): Promise<void> {
    const seen = new Set<string>();
    for (const state of saved ? [saved.state, ...saved.history] : []) {
      if (state.step === "finished" && state.revoked) continue;
      // Any state with a new account has what revokeAll reads; the old handle is only shown.
      const moving = Moving.safeParse({ oldHandle: "", ...state });
      if (!moving.success) continue;
      const { source, target } = moving.data;
      const tokens = JSON.stringify([
        source.kind === "account" ? source.old.token : "",
        target.token,
      ]);
      if (seen.has(tokens)) continue;
      seen.add(tokens);
      await this.deps.world
        .revokeAll(moving.data, this.deps.sealer)
        .catch((err: unknown) => log.warn("revoking at /forget failed", { user, err }));
    }
  }

  /**
   * Everything kept under the user's key: the state, the snapshot, the sign-ins
   * still waiting for their callback, and anything of theirs set aside as unreadable.
   * (Their jobs' records go with cancelAll.)
   */
  private async forgetData(user: UserKey, saved: Saved | undefined): Promise<void> {
    const { store } = this.deps;
    const unreadable = store.namespace(UNREADABLE);
    const signIns = new Set<string>();
    for (const state of saved ? [saved.state, ...saved.history] : []) {
      const waiting = awaiting(state).signIn;
      if (waiting) signIns.add(waiting);
    }
    for (const state of signIns) {
      await store.namespace(PENDING_SIGN_INS).delete(state);
      await unreadable.delete(`${PENDING_SIGN_INS}:${state}`);
    }
    for (const name of USER_NAMESPACES) {
      await unreadable.delete(`${name}:${user}`);
      // The state last: until it goes, a /forget that failed half-way can be sent again.
      if (name !== "users") await store.namespace(name).delete(user);
    }
    await store.namespace("users").delete(user);
  }

  private get leaseMs(): number {
    return this.deps.userLeaseMs ?? USER_LEASE_MS;
  }

  private locked<T>(user: UserKey, fn: (fence: Fence) => Promise<T>): Promise<T> {
    return withLock(this.deps.store.locks, `user:${user}`, (_lost, fence) => fn(fence), {
      ttlMs: this.leaseMs,
    });
  }

  private notify(user: UserKey) {
    return async (turn: Turn) => {
      if (turn.replies.length > 0)
        await this.notifier?.notify(user, turn.replies, turn.seq, turn.id);
    };
  }

  /**
   * Under the user's lock: deliver what still waits in the outbox, load, run the step, save the
   * state and its replies in one fenced write, deliver them, and take them out of the outbox.
   * A delivery that fails leaves them there (delivered later); the turn itself stands.
   */
  private async run(
    user: UserKey,
    input: StepInput,
    deliver: (turn: Turn) => Promise<void>,
    fence: Fence,
    source?: string,
  ): Promise<Turn> {
    let before = await this.saved.get(user);
    const handled = source !== undefined && wasHandled(before, source);
    if (before?.outbox?.length) before = await this.flush(user, before, fence);
    // This input's turn was saved already: the flush just delivered what of it still waited
    // (a process that died before delivering it); running the step again would answer twice.
    if (handled) {
      log.info("input handed over again; already handled", { user, source });
      // Told, with nothing to say: the channel finishes with the input (the DM channel's inbox
      // item) and deletes it if it may hold a secret (the first time's deletion may not have
      // happened before the kill).
      const again: Turn = {
        replies: [],
        seq: before?.seq ?? 0,
        secret: mayHoldSecret(input),
        ack: "done",
      };
      await deliver(again);
      return again;
    }
    const ctx = this.context(user);
    const change = await this.turn(before, input, ctx);
    if (change === "stale")
      return { replies: [], seq: before?.seq ?? 0, secret: false, ack: "stale" };
    const id = change.replies.length > 0 ? (source ?? randomUUID()) : undefined;
    // In the index before its replies are saved; still there from an earlier turn, left there.
    const indexed = id !== undefined && !change.forget;
    if (indexed && before?.indexed !== true) await this.outboxIndex.mark(user);
    const after = await this.commit(
      user,
      before,
      change,
      input.kind === "job",
      fence,
      id,
      source,
      indexed,
    );
    const turn: Turn = {
      ...(id ? { id } : {}),
      replies: change.replies,
      seq: after?.seq ?? 0,
      secret: change.secret === true,
      ack: change.ack ?? "done",
    };
    const kept = after?.outbox?.some((e) => e.id === id) === true;
    if (!kept) {
      await deliver(turn);
      return turn;
    }
    let saved = after!;
    const progress = this.progress(
      user,
      id!,
      0,
      fence,
      () => saved,
      (next) => {
        saved = next;
      },
    );
    try {
      await deliver({ ...turn, progress });
    } catch (err) {
      if (err instanceof RecipientGoneError) throw err;
      if (err instanceof DeliveredElsewhereError)
        log.debug("replies wait in the outbox for the process that sends them", { user });
      else log.warn("replies not delivered; they wait in the outbox", { user, err });
      return { ...turn, delivered: false };
    }
    // Delivered: an acknowledgement that can't be saved now leaves the entry for the sweep,
    // which a channel that can tell (this process's Telegram, the DM channel's keys) skips.
    await this.acknowledge(user, saved, [id!], fence).catch((err: unknown) =>
      log.warn("outbox: delivered, but the acknowledgement wasn't saved", { user, err }),
    );
    return turn;
  }

  /** The outbox's entries, oldest first, through the notifier; stops at the first that fails. */
  private async flush(user: UserKey, from: Saved, fence: Fence): Promise<Saved> {
    let saved = from;
    const sent: string[] = [];
    for (const entry of from.outbox ?? []) {
      const progress = this.progress(
        user,
        entry.id,
        entry.sent ?? 0,
        fence,
        () => saved,
        (next) => {
          saved = next;
        },
      );
      try {
        await this.notifier?.notify(
          user,
          entry.replies.map(fromStored),
          entry.seq,
          entry.id,
          progress,
        );
      } catch (err) {
        if (err instanceof RecipientGoneError) throw err;
        if (!(err instanceof DeliveredElsewhereError))
          log.warn("outbox: still not delivered", { user, id: entry.id, err });
        break;
      }
      sent.push(entry.id);
    }
    return sent.length > 0 ? this.acknowledge(user, saved, sent, fence) : saved;
  }

  /**
   * An outbox entry's delivery progress: `sent(k)` saves, in a fenced write, that its first k
   * replies went out. Unsaved (the store unreachable, the user taken over), it is only logged:
   * the delivery goes on, and at worst a restart sends those replies again.
   */
  private progress(
    user: UserKey,
    id: string,
    from: number,
    fence: Fence,
    current: () => Saved,
    update: (next: Saved) => void,
  ): DeliveryProgress {
    return {
      from,
      sent: async (count) => {
        const saved = current();
        const next: Saved = {
          ...saved,
          outbox: (saved.outbox ?? []).map((e) => (e.id === id ? { ...e, sent: count } : e)),
        };
        try {
          await this.saved.setFenced(user, next, fence);
          update(next);
        } catch (err) {
          log.warn("outbox: what went out wasn't saved", { user, id, err });
        }
      },
    };
  }

  private async acknowledge(
    user: UserKey,
    saved: Saved,
    ids: readonly string[],
    fence: Fence,
  ): Promise<Saved> {
    const outbox = (saved.outbox ?? []).filter((e) => !ids.includes(e.id));
    const next: Saved = { ...saved, outbox };
    await this.saved.setFenced(user, next, fence);
    return next;
  }

  /**
   * Delivers what waits in every indexed user's outbox (a process killed between a save and its
   * send), and takes users with nothing waiting out of the index. Run at start and now and then.
   */
  async deliverPending(): Promise<number> {
    let delivered = 0;
    for (const user of await this.outboxIndex.users()) {
      try {
        delivered += await this.deliverWaiting(user as UserKey);
      } catch (err) {
        log.warn("outbox: sweep skipped a user", { user, err });
      }
    }
    return delivered;
  }

  /**
   * Delivers what waits in one user's outbox, now: asked by the process that sends to them
   * when another process saved replies it couldn't send. How many entries went out.
   */
  async deliverWaiting(user: UserKey): Promise<number> {
    try {
      return await this.locked(user, async (fence) => {
        const saved = await this.saved.get(user);
        const waiting = saved?.outbox?.length ?? 0;
        const after = saved && waiting > 0 ? await this.flush(user, saved, fence) : saved;
        const left = after?.outbox?.length ?? 0;
        if (left === 0) {
          // Said out of the index first: a state that says "indexed" is, or its turn would skip
          // putting the user back in, and a kill would leave its replies where no sweep looks.
          if (after?.indexed) {
            const { indexed: _, ...rest } = after;
            await this.saved.setFenced(user, rest, fence);
          }
          await this.outboxIndex.unmark(user);
        }
        return waiting - left;
      });
    } catch (err) {
      if (!(err instanceof RecipientGoneError)) throw err;
      void this.forget(user).catch((e: unknown) => log.error("forget failed", { user, err: e }));
      return 0;
    }
  }

  /** Sweeps the outboxes now and every `everyMs` until stop(). */
  startOutbox(everyMs = 30_000): void {
    const sweep = () =>
      this.deliverPending().catch((err: unknown) => log.warn("outbox sweep failed", { err }));
    void sweep();
    this.sweeper = setInterval(sweep, everyMs);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
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

    if (input.kind === "text") {
      const credential = credentialAnywhere(input.text);
      if (credential && step.takesSecret?.(state, ctx) !== true) {
        // Not stored (the state doesn't change), never echoed, deleted where the channel can.
        return {
          state,
          secret: true,
          replies: [
            say([misplacedSecret(credential, ctx.channel.secretsInChat)]),
            ...(await prompt()),
          ],
        };
      }
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
   *
   * The jobs are prepared first and begun after the save: a turn that fails in
   * between leaves prepared jobs nobody begins (the sweep discards them, or
   * begins them if the state was saved), never a state waiting for a job that
   * doesn't exist.
   */
  private async commit(
    user: UserKey,
    before: Saved | undefined,
    change: Change,
    fromJob: boolean,
    fence: Fence,
    replyId?: string,
    source?: string,
    indexed = false,
  ): Promise<Saved | undefined> {
    if (change.forget) {
      // Still ours? Rewriting the record as it was says so, or refuses.
      if (before) await this.saved.setFenced(user, before, fence);
      await this.revoke(user, before);
      if (fromJob) {
        await this.forgetData(user, before);
        void this.deps.jobs
          .cancelAll(user, { forget: true })
          .catch((err: unknown) => log.error("stopping jobs failed", { user, err }));
      } else {
        await this.deps.jobs.cancelAll(user, { forget: true });
        await this.forgetData(user, before);
      }
      return undefined;
    }
    const entry = (seq: number): OutboxEntry[] =>
      replyId ? [{ id: replyId, seq, replies: change.replies.map(toStored) }] : [];
    const outbox = (seq: number) => [...(before?.outbox ?? []), ...entry(seq)].slice(-OUTBOX_MAX);
    const handled =
      source === undefined
        ? before?.handled
        : [...(before?.handled ?? []), source].slice(-HANDLED_MAX);
    const withHandled = {
      ...(handled ? { handled } : {}),
      ...(indexed || before?.indexed ? { indexed: true as const } : {}),
    };
    if (
      before &&
      !change.history &&
      JSON.stringify(before.state) === JSON.stringify(change.state)
    ) {
      if (!replyId && source === undefined) return before;
      // Nothing changed but what is said: the replies are saved, the buttons keep their stamp.
      const same: Saved = { ...before, outbox: outbox(before.seq), ...withHandled };
      await this.saved.setFenced(user, same, fence);
      return same;
    }
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
      outbox: outbox((before?.seq ?? 0) + 1),
      ...withHandled,
    };
    const jobs = change.jobs ?? [];
    for (const job of jobs) await this.deps.jobs.prepare(user, job);
    await this.saved.setFenced(user, next, fence);
    for (const job of jobs) {
      // Saved is saved: a job that can't begin now is begun by the sweep.
      await this.deps.jobs
        .begin(job.id)
        .catch((err: unknown) =>
          log.warn("job not begun yet; the sweep will", { job: job.id, err }),
        );
    }
    return next;
  }
}
