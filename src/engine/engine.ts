/**
 * The engine every channel shares: per-user lock → load state → run one step →
 * save → reply. Replies are delivered while the lock is still held, after the
 * save, so a second message from the same user waits for the first to be fully
 * answered, and nothing said to a user is ever ahead of what is stored.
 */

import { type Input, type Notifier, type Reply, say, type UserKey } from "../chat/conversation.js";
import { b, n } from "../chat/text.js";
import type { World } from "../clients/world.js";
import type { JobRunner } from "../jobs/runner.js";
import { log } from "../log.js";
import { snapshots } from "../model/snapshot.js";
import { Saved, STATE_VERSION, type State } from "../model/state.js";
import { upgrade } from "../model/upgrade.js";
import { stepOf } from "../steps/index.js";
import type { Outcome, StepContext } from "../steps/step.js";
import type { Sealer } from "../store/seal.js";
import type { KeyValue, Store } from "../store/store.js";
import { withLock } from "../store/with-lock.js";

/** Longer than anything a step asks for; past this a message is junk, not an answer. */
export const MAX_TEXT = 2000;
const HISTORY = 20;

export interface Turn {
  replies: readonly Reply[];
  /** The saved state's stamp, for the buttons in these replies. */
  seq: number;
  /** The user's message carried a secret: delete it where the channel can. */
  secret: boolean;
}

/** An outcome, plus what only the engine decides: the /back history and forgetting. */
interface Change extends Outcome {
  history?: State[];
  forget?: true;
}

export interface EngineDeps {
  store: Store;
  sealer: Sealer;
  world: World;
  jobs: JobRunner;
  notifier?: Notifier;
  now?: () => number;
  /** The length of a reminder's day; tests and the demo compress it. */
  dayMs?: number;
}

const HELP: Reply = say([
  b("Commands\n"),
  "/start — begin, or pick up where we were\n",
  "/status — where we are and what's running\n",
  "/back — one step back\n",
  "/cancel — stop, and leave nothing running\n",
  "/forget — delete everything I know about you\n",
  "/help — this list",
]);

export class Engine {
  private readonly saved: KeyValue<unknown>;
  private readonly now: () => number;
  notifier?: Notifier;

  constructor(private readonly deps: EngineDeps) {
    this.saved = deps.store.namespace<unknown>("users");
    this.now = deps.now ?? Date.now;
    this.notifier = deps.notifier;
  }

  /**
   * One message from one user. `deliver` is called with the replies once the new
   * state is saved, still under the user's lock.
   */
  async receive(
    user: UserKey,
    input: Input,
    deliver: (turn: Turn) => Promise<void>,
  ): Promise<Turn> {
    return this.locked(user, async () => {
      const before = await this.load(user);
      const ctx = this.context(user);
      const outcome = await this.turn(before, input, ctx);
      const after = await this.commit(user, before, outcome);
      const turn: Turn = {
        replies: outcome.replies,
        seq: after?.seq ?? 0,
        secret: outcome.secret === true,
      };
      await deliver(turn);
      return turn;
    });
  }

  /**
   * A change that doesn't come from a message (a job finished): runs under the
   * user's lock, saves, then notifies. `change` returns null to leave things be.
   */
  async advance(
    user: UserKey,
    change: (state: State, ctx: StepContext) => Promise<Outcome | null> | Outcome | null,
  ): Promise<Outcome | null> {
    return this.locked(user, async () => {
      const before = await this.load(user);
      if (!before) return null;
      const ctx = this.context(user);
      const outcome = await change(before.state, ctx);
      if (!outcome) return null;
      const withEntry = await this.arrive(before.state, outcome, ctx);
      const after = await this.commit(user, before, withEntry);
      if (after && withEntry.replies.length > 0)
        await this.notifier?.notify(user, withEntry.replies, after.seq);
      return withEntry;
    });
  }

  /**
   * Deletes what is kept about a user: state and snapshot. Jobs call it when the
   * user can't be reached any more or their 30 days are up; /forget also stops jobs.
   */
  async forgetData(user: UserKey): Promise<void> {
    await this.saved.delete(user);
    await snapshots(this.deps.store).delete(user);
  }

  /**
   * The user's lease. Short, with a heartbeat while held: a process killed
   * mid-turn delays that user's next message by at most this long.
   */
  private locked<T>(user: UserKey, fn: () => Promise<T>): Promise<T> {
    return withLock(this.deps.store.locks, `user:${user}`, fn, { ttlMs: 10_000 });
  }

  /** The saved state, for /status from a job and for tests. */
  async state(user: UserKey): Promise<State | undefined> {
    return (await this.load(user))?.state;
  }

  private context(user: UserKey): StepContext {
    return {
      user,
      sealer: this.deps.sealer,
      world: this.deps.world,
      now: this.now,
      snapshots: snapshots(this.deps.store),
      dayMs: this.deps.dayMs ?? 24 * 60 * 60_000,
      jobProgress: async (id) => (await this.deps.jobs.get(id))?.progress,
      jobData: async <T>(id: string) => (await this.deps.jobs.get<T>(id))?.data,
    };
  }

  private async turn(saved: Saved | undefined, input: Input, ctx: StepContext): Promise<Change> {
    const state: State = saved?.state ?? { step: "welcome" };
    const step = stepOf(state);
    const prompt = async () => step.enter(state as never, ctx);

    if (input.kind === "command") return this.command(saved, state, input.name, ctx);
    // A button can stand for a command ("Forget now" is /forget): the same path, the same effect.
    if (
      input.kind === "choice" &&
      input.id.startsWith("/") &&
      (saved === undefined || input.seq === undefined || input.seq === saved.seq)
    ) {
      return this.command(saved, state, input.id.slice(1), ctx);
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
    const outcome = await step.handle(state as never, input, ctx);
    return this.arrive(state, outcome, ctx);
  }

  /** Moving to another step: say what that step says on arrival. */
  private async arrive(from: State, outcome: Outcome, ctx: StepContext): Promise<Outcome> {
    if (outcome.state.step === from.step) return outcome;
    const entry = await stepOf(outcome.state).enter(outcome.state as never, ctx);
    return { ...outcome, replies: [...outcome.replies, ...entry] };
  }

  private async command(
    saved: Saved | undefined,
    state: State,
    name: string,
    ctx: StepContext,
  ): Promise<Change> {
    const step = stepOf(state);
    switch (name) {
      case "start":
        if (!saved || state.step === "welcome")
          return { state, replies: await step.enter(state as never, ctx) };
        return {
          state,
          replies: [
            say(["Welcome back! We were here:"]),
            ...(await (step.status ?? step.enter)(state as never, ctx)),
          ],
        };
      case "status":
        return { state, replies: await (step.status ?? step.enter)(state as never, ctx) };
      case "help":
        return { state, replies: [HELP] };
      case "back": {
        const back = this.backTarget(saved);
        if (step.canGoBack === false || !back) {
          const why =
            state.step === "exporting"
              ? "I'm in the middle of saving your follows; /cancel stops that."
              : "There's no step before this one.";
          return { state, replies: [say([why])] };
        }
        return {
          state: back.state,
          history: back.history,
          replies: await stepOf(back.state).enter(back.state as never, ctx),
        };
      }
      case "cancel":
        await this.deps.jobs.cancelAll(ctx.user);
        return {
          state: { step: "welcome" },
          history: [],
          replies: [
            say([
              "Stopped. Nothing is running for you now. /start begins again; /forget deletes what I kept.",
            ]),
          ],
        };
      case "forget":
        await this.deps.jobs.cancelAll(ctx.user, { forget: true });
        await this.forgetData(ctx.user);
        return {
          state: { step: "welcome" },
          forget: true,
          replies: [
            say([
              "Done: I've deleted everything I had about you. /start if you want to begin again.",
            ]),
          ],
        };
      default:
        return { state, replies: [HELP] };
    }
  }

  /** The newest earlier state one can return to (not a transient one like "exporting"), and the history before it. */
  private backTarget(saved: Saved | undefined): { state: State; history: State[] } | undefined {
    const history = saved?.history ?? [];
    for (let k = history.length - 1; k >= 0; k--) {
      const candidate = history[k]!;
      if (stepOf(candidate).transient !== true && candidate.step !== saved?.state.step) {
        return { state: candidate, history: history.slice(0, k) };
      }
    }
    return undefined;
  }

  private async load(user: UserKey): Promise<Saved | undefined> {
    const raw = await this.saved.get(user);
    if (raw === undefined) return undefined;
    const parsed = Saved.safeParse(upgrade(raw, STATE_VERSION));
    if (parsed.success) return parsed.data;
    // Never throw a user's progress away: keep what could not be read, and say so in the log.
    log.error("saved state does not fit; kept aside", {
      user,
      issue: parsed.error.issues[0]?.message,
    });
    await this.deps.store.namespace<unknown>("unreadable").set(`${user}:${this.now()}`, raw);
    await this.saved.delete(user);
    return undefined;
  }

  private async commit(
    user: UserKey,
    before: Saved | undefined,
    change: Change,
  ): Promise<Saved | undefined> {
    if (change.forget) return undefined;
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
    for (const job of change.jobs ?? [])
      await this.deps.jobs.start(user, job.kind, job.id, job.data);
    return next;
  }
}
