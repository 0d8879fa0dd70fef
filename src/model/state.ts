/**
 * A user's place in the journey: a zod union keyed on the step, so a state that
 * mixes two steps (a token without a server, an export without an account) can't
 * be written down, and saved data that no longer fits is caught on load.
 */
import { z } from "zod";
import { OUTBOX_MAX, OutboxEntry } from "./outbox.js";
import { SealedSchema } from "./sealed.js";

export const Instance = z.object({
  /** https://hachyderm.io — where the API lives. */
  origin: z.string(),
  /** hachyderm.io — the web host, shown to people. */
  host: z.string(),
  /** The domain in handles (LOCAL_DOMAIN), which can differ from the web host. */
  domain: z.string(),
  /** The software version it reports, e.g. "4.3.2": decides scopes and PKCE. */
  version: z.string().default("0.0.0"),
});
export type Instance = z.infer<typeof Instance>;

export const OldAccount = z.object({
  instance: Instance,
  id: z.string(),
  /** ada@hachyderm.io */
  handle: z.string(),
  token: SealedSchema,
  /** How the token came: ours to revoke (oauth, with the app's key in the store) or the user's own. */
  via: z.enum(["oauth", "pasted"]).default("pasted"),
});
export type OldAccount = z.infer<typeof OldAccount>;

/** A sign-in under way: the link the user taps, and what finishing it needs. */
export const PendingSignIn = z.object({
  /** OAuth `state`: binds a callback to this user; single-use, 10 minutes. */
  state: z.string(),
  url: z.string(),
  /** PKCE verifier, sealed; absent where the server offers no S256. */
  verifier: SealedSchema.optional(),
  /** "oob": the user pastes the code; "callback": the bot's own page receives it. */
  redirect: z.enum(["oob", "callback"]),
  startedAt: z.number(),
});
export type PendingSignIn = z.infer<typeof PendingSignIn>;

/** Where the follows came from: a signed-in account (which can be snapshotted) or an uploaded file. */
export const Source = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("account"), old: OldAccount }),
  z.object({ kind: z.literal("file"), instance: Instance, name: z.string() }),
]);
export type Source = z.infer<typeof Source>;

export const FollowRow = z.object({
  acct: z.string(),
  reblogs: z.boolean(),
  notify: z.boolean(),
  languages: z.array(z.string()).nullable(),
});
export type FollowRow = z.infer<typeof FollowRow>;

/** What every step after the snapshot carries: where the follows came from, how many, and when. */
export const Journey = z.object({
  source: Source,
  follows: z.number(),
  snapshotAt: z.number(),
});

/** The new account, once connected: micro.blog by app token, or a Mastodon-API server by OAuth. */
export const Target = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("microblog"),
    /** micro.blog's own domain (micro.blog; the sandbox's in tests and the demo). */
    domain: z.string().default("micro.blog"),
    username: z.string(),
    /** The Fediverse handle the account has (ada@micro.blog), for the alias and the Move. */
    handle: z.string(),
    token: SealedSchema,
  }),
  z.object({
    kind: z.literal("mastodon"),
    instance: Instance,
    id: z.string(),
    handle: z.string(),
    token: SealedSchema,
  }),
]);
export type Target = z.infer<typeof Target>;

export const WithTarget = Journey.extend({ target: Target });

/** From the alias on: the old account's handle is known (asked for, when the follows came from a file). */
export const Moving = WithTarget.extend({ oldHandle: z.string() });
export type Moving = z.infer<typeof Moving>;

/** How the follower transfer ended, as the finished message told it. */
export const TransferResult = z.object({
  initial: z.number(),
  moved: z.number(),
  stayed: z.number(),
  /**
   * False when the old account's followers could never be counted (a closed API and an actor
   * shown only to signed requests): `moved` and `stayed` are then unknown, never 0 of 0.
   */
  counted: z.boolean().default(true),
  /**
   * `new`: the old server could never be read, so `moved` is what the new account's own
   * follower count gained since the watch began, and `stayed` is unknown (0).
   */
  from: z.enum(["old", "new"]).optional(),
  /** `asked`: the user ended an uncounted watch. */
  ended: z.enum(["zero", "settled", "cap", "asked"]),
  at: z.number(),
});
export type TransferResult = z.infer<typeof TransferResult>;

/** What the import will meet, counted before anything is followed. */
export const Preview = z.object({
  toFollow: z.number(),
  already: z.number(),
  /** Accounts on servers that did not answer just now. */
  unreachable: z.number(),
  unreachableServers: z.array(z.string()),
  /** Mastodon-API targets allow 400 follows a day through the API. */
  dailyLimit: z.number().nullable(),
});
export type Preview = z.infer<typeof Preview>;

export const ImportReport = z.object({
  followed: z.number(),
  requested: z.number(),
  already: z.number(),
  notFound: z.number(),
  refused: z.number(),
  failed: z.number(),
});
export type ImportReport = z.infer<typeof ImportReport>;

/** A report with nothing counted yet, or only the accounts already followed. */
export const importReport = (already = 0): ImportReport => ({
  followed: 0,
  requested: 0,
  already,
  notFound: 0,
  refused: 0,
  failed: 0,
});

export const State = z.discriminatedUnion("step", [
  z.object({ step: z.literal("welcome") }),
  z.object({ step: z.literal("old-server") }),
  z.object({
    step: z.literal("old-sign-in"),
    instance: Instance,
    signIn: PendingSignIn.nullable(),
  }),
  z.object({ step: z.literal("old-token"), instance: Instance }),
  z.object({ step: z.literal("old-csv"), instance: Instance }),
  z.object({
    step: z.literal("exporting"),
    old: OldAccount,
    jobId: z.string(),
    startedAt: z.number(),
  }),
  Journey.extend({ step: z.literal("new-choose") }),
  Journey.extend({ step: z.literal("new-microblog") }),
  /** micro.blog took the token, but the user confirms which Fediverse username is theirs. */
  Journey.extend({
    step: z.literal("new-microblog-handle"),
    /** micro.blog's own domain, as for the target. */
    domain: z.string(),
    username: z.string(),
    token: SealedSchema,
    /** Handles to offer as buttons, best first (micro.blog answered for them, or couldn't be asked). */
    offers: z.array(z.string()),
  }),
  Journey.extend({ step: z.literal("new-server") }),
  Journey.extend({ step: z.literal("new-sign-in"), instance: Instance, signIn: PendingSignIn }),
  WithTarget.extend({ step: z.literal("import-preview"), preview: Preview }),
  WithTarget.extend({
    step: z.literal("importing"),
    jobId: z.string(),
    startedAt: z.number(),
    /** After the follows: on to the move ("Follow them, then move"), or ask whether to try first. */
    after: z.enum(["ask", "move"]).default("ask"),
    /** Moving on: the alias was checked, and cross-posting confirmed off, while the follows went out. */
    aliasDone: z.boolean().default(false),
  }),
  WithTarget.extend({ step: z.literal("import-web"), sentAt: z.number() }),
  WithTarget.extend({ step: z.literal("import-done"), report: ImportReport }),
  WithTarget.extend({ step: z.literal("trying"), jobId: z.string(), remindAt: z.number() }),
  WithTarget.extend({ step: z.literal("old-handle") }),
  /** The alias, and on micro.blog cross-posting switched off: both asked, and confirmed, at once. */
  Moving.extend({ step: z.literal("alias") }),
  Moving.extend({ step: z.literal("preflight") }),
  Moving.extend({
    step: z.literal("move"),
    confirmedAt: z.number(),
    pollJobId: z.string().optional(),
  }),
  Moving.extend({
    step: z.literal("watching"),
    movedAt: z.number(),
    watchJobId: z.string(),
    /** The user turned off the 50% and 90% messages. */
    quiet: z.boolean().default(false),
  }),
  Moving.extend({
    step: z.literal("finished"),
    movedAt: z.number(),
    result: TransferResult,
    /** When everything kept is deleted, unless the user keeps it. */
    forgetAt: z.number().nullable(),
    /** The job that forgets at forgetAt (absent in states saved before v3). */
    forgetJobId: z.string().optional(),
    revoked: z.boolean().default(false),
  }),
  Moving.extend({ step: z.literal("moved-elsewhere"), to: z.string() }),
]);
export type State = z.infer<typeof State>;
export type StepName = State["step"];
export type StateOf<K extends StepName> = Extract<State, { step: K }>;

/**
 * What a state is waiting for from outside the chat: the jobs whose reports it
 * takes, and the sign-in whose return it takes. Anything else that arrives is
 * stale (a job of an earlier attempt, a link from before /back) and changes nothing.
 */
export function awaiting(state: State): { jobs: readonly string[]; signIn?: string } {
  switch (state.step) {
    case "exporting":
    case "importing":
    case "trying":
      return { jobs: [state.jobId] };
    case "move":
      return { jobs: state.pollJobId ? [state.pollJobId] : [] };
    case "watching":
      return { jobs: [state.watchJobId] };
    case "finished":
      return { jobs: state.forgetJobId ? [state.forgetJobId] : [] };
    case "old-sign-in":
      return { jobs: [], signIn: state.signIn?.state };
    case "new-sign-in":
      return { jobs: [], signIn: state.signIn.state };
    default:
      return { jobs: [] };
  }
}

/** What is saved per user. `v` lets a changed step upgrade saved state; `seq` stamps buttons. */
export const STATE_VERSION = 4;
/** How many handled input ids are kept: far more than a channel ever hands over again. */
export const HANDLED_MAX = 50;

export const Saved = z.object({
  v: z.literal(STATE_VERSION),
  seq: z.number().int().nonnegative(),
  state: State,
  /** Earlier states, newest last, for /back. Bounded. */
  history: z.array(State).max(20),
  updatedAt: z.number(),
  /** Replies saved with this state and not yet acknowledged by the channel (outbox.ts). */
  outbox: z.array(OutboxEntry).max(OUTBOX_MAX).optional(),
  /**
   * The channel's ids of the inputs handled lately (Telegram update ids, DM status ids), newest
   * last, saved with the turn: one handed over again after a crash or a retry isn't run twice.
   */
  handled: z.array(z.string()).max(HANDLED_MAX).optional(),
  /**
   * The user was put in the outbox index (engine/outbox.ts) by a turn saved here, and the sweep
   * hasn't taken them out since (it clears this first): the next turn needn't put them in again.
   */
  indexed: z.literal(true).optional(),
});
export type Saved = z.infer<typeof Saved>;
