/**
 * The shape every step of the journey has. A step gets plain input — what the
 * user sent, or what one of its jobs reported — and returns plain replies and
 * the next state; it never sees a channel, and it reaches the world only
 * through StepContext, so tests can hand it fakes.
 */
import type { ChannelTraits } from "../chat/channel.js";
import type { Input, Reply, UserKey } from "../chat/conversation.js";
import type { World } from "../clients/world.js";
import type { Counted, JobInput, JobRequest, WatchProgress } from "../model/jobs.js";
import type { Snapshot } from "../model/snapshot.js";
import type { State, StateOf, StepName } from "../model/state.js";
import type { Sealer } from "../store/seal.js";
import type { KeyValue } from "../store/store.js";

/** What reaches a step: the user's message, or a report from a job the state waits for. */
export type StepInput = Input | JobInput;

export interface StepContext {
  readonly user: UserKey;
  /** What the person's channel can carry: steps ask differently where tokens or files can't go. */
  readonly channel: ChannelTraits;
  readonly sealer: Sealer;
  readonly world: World;
  now(): number;
  /** A "day" for reminders: 24 hours, shorter in tests and the demo. */
  readonly dayMs: number;
  /** How long data is kept after the finished message, unless the user keeps it. */
  readonly forgetAfterMs: number;
  /** The user's saved snapshot (follows and the rest), apart from the state. */
  readonly snapshots: KeyValue<Snapshot>;
  /** How far the snapshot or the import has come, from what the job last saved. */
  counted(jobId: string): Promise<Counted | undefined>;
  /** What the transfer watch last saw. */
  watched(jobId: string): Promise<WatchProgress | undefined>;
}

export interface Outcome {
  readonly state: State;
  readonly replies: readonly Reply[];
  /** The input carried a secret: the channel deletes the user's message. */
  readonly secret?: true;
  /** Long work to start once the new state is saved. */
  readonly jobs?: readonly JobRequest[];
  /** Delete everything kept about the user (their jobs stop too). */
  readonly forget?: true;
  /** For input from outside the chat (a sign-in page): whether it did what it came for. */
  readonly ack?: "done" | "failed";
}

/** The step named K. */
export type Step<K extends StepName> = StepFor<StateOf<K>>;

/**
 * A step, by the state it takes. Its methods take that state only, and methods
 * are compared both ways, so the step of any one state is a StepFor<State>: the
 * engine can run whichever step a state is at without a cast.
 */
export interface StepFor<S extends State> {
  readonly name: S["step"];
  /** What the bot says on arriving at this step, and again when the user resumes. */
  enter(state: S, ctx: StepContext): Reply[] | Promise<Reply[]>;
  handle(state: S, input: StepInput, ctx: StepContext): Promise<Outcome>;
  /**
   * Whether text here is read as a secret (an access token, an app token, a sign-in code): the
   * step deletes and checks it. Elsewhere, text shaped like one is refused before the step sees it.
   */
  takesSecret?(state: S, ctx: StepContext): boolean;
  /** /status; by default the step's prompt again. */
  status?(state: S, ctx: StepContext): Reply[] | Promise<Reply[]>;
  /** False where /back would break work under way (the user can /cancel instead). */
  readonly canGoBack?: boolean;
  /** A step one passes through (work under way); /back never lands on it. */
  readonly transient?: boolean;
}

/** Stay where you are and say why. */
export const stay = (state: State, ...replies: Reply[]): Outcome => ({ state, replies });
