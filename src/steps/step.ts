/**
 * The shape every step of the journey has. A step gets plain input and returns
 * plain replies and the next state; it never sees a channel, and it reaches the
 * world only through StepContext, so tests can hand it fakes.
 */
import type { Input, Reply, UserKey } from "../chat/conversation.js";
import type { World } from "../clients/world.js";
import type { Snapshot } from "../model/snapshot.js";
import type { State, StateOf, StepName } from "../model/state.js";
import type { Sealer } from "../store/seal.js";
import type { KeyValue } from "../store/store.js";

export interface StepContext {
  readonly user: UserKey;
  readonly sealer: Sealer;
  readonly world: World;
  now(): number;
  /** A "day" for reminders: 24 hours, shorter in tests and the demo. */
  readonly dayMs: number;
  /** The user's saved snapshot (follows and the rest), apart from the state. */
  readonly snapshots: KeyValue<Snapshot>;
  /** How far a running job has come, from its saved record. */
  jobProgress(jobId: string): Promise<{ done: number; total?: number } | undefined>;
  /** What a job has saved (the watcher's latest count, for /status). */
  jobData<T>(jobId: string): Promise<T | undefined>;
}

/** Long work to start once the new state is saved (see src/jobs). */
export interface JobRequest {
  readonly kind:
    | "snapshot"
    | "import-follows"
    | "reminder"
    | "move-poll"
    | "watch"
    | "forget-later";
  readonly id: string;
  readonly data: unknown;
}

export interface Outcome {
  readonly state: State;
  readonly replies: readonly Reply[];
  /** The input carried a secret: the channel deletes the user's message. */
  readonly secret?: true;
  readonly jobs?: readonly JobRequest[];
}

export interface Step<K extends StepName> {
  readonly name: K;
  /** What the bot says on arriving at this step, and again when the user resumes. */
  enter(state: StateOf<K>, ctx: StepContext): Reply[] | Promise<Reply[]>;
  handle(state: StateOf<K>, input: Input, ctx: StepContext): Promise<Outcome>;
  /** /status; by default the step's prompt again. */
  status?(state: StateOf<K>, ctx: StepContext): Reply[] | Promise<Reply[]>;
  /** False where /back would break work under way (the user can /cancel instead). */
  readonly canGoBack?: boolean;
  /** A step one passes through (work under way); /back never lands on it. */
  readonly transient?: boolean;
}

/** Stay where you are and say why. */
export const stay = (state: State, ...replies: Reply[]): Outcome => ({ state, replies });
