/**
 * A user's place in the journey: a zod union keyed on the step, so a state that
 * mixes two steps (a token without a server, an export without an account) can't
 * be written down, and saved data that no longer fits is caught on load.
 */
import { z } from "zod";
import { SealedSchema } from "../store/seal.js";

export const Instance = z.object({
  /** https://hachyderm.io — where the API lives. */
  origin: z.string(),
  /** hachyderm.io — the web host, shown to people. */
  host: z.string(),
  /** The domain in handles (LOCAL_DOMAIN), which can differ from the web host. */
  domain: z.string(),
});
export type Instance = z.infer<typeof Instance>;

export const OldAccount = z.object({
  instance: Instance,
  id: z.string(),
  /** ada@hachyderm.io */
  handle: z.string(),
  token: SealedSchema,
});
export type OldAccount = z.infer<typeof OldAccount>;

export const FollowRow = z.object({
  acct: z.string(),
  reblogs: z.boolean(),
  notify: z.boolean(),
  languages: z.array(z.string()).nullable(),
});
export type FollowRow = z.infer<typeof FollowRow>;

export const State = z.discriminatedUnion("step", [
  z.object({ step: z.literal("welcome") }),
  z.object({ step: z.literal("old-server") }),
  z.object({ step: z.literal("old-token"), instance: Instance }),
  z.object({
    step: z.literal("exporting"),
    old: OldAccount,
    jobId: z.string(),
    startedAt: z.number(),
  }),
  z.object({
    step: z.literal("connect-new"),
    old: OldAccount,
    exported: z.object({ follows: z.number(), at: z.number() }),
  }),
]);
export type State = z.infer<typeof State>;
export type StepName = State["step"];
export type StateOf<K extends StepName> = Extract<State, { step: K }>;

/** What is saved per user. `v` lets a changed step upgrade saved state; `seq` stamps buttons. */
export const STATE_VERSION = 1;
export const Saved = z.object({
  v: z.literal(STATE_VERSION),
  seq: z.number().int().nonnegative(),
  state: State,
  /** Earlier states, newest last, for /back. Bounded. */
  history: z.array(State).max(20),
  updatedAt: z.number(),
});
export type Saved = z.infer<typeof Saved>;
