/**
 * Replies waiting to be delivered, saved with the user's state in the same fenced write: a
 * process killed between the save and the send sends them when it (or another) starts again,
 * and a send that failed is tried again, instead of the person being left without an answer
 * to a change that was made. Each entry has an id a channel can use to deliver it at most once.
 *
 * Stored as plain JSON: a file's bytes as base64.
 */
import { z } from "zod";

const TextPart = z.union([
  z.string(),
  z.object({ b: z.string() }),
  z.object({ code: z.string() }),
  z.object({ i: z.string() }),
  z.object({ link: z.string(), href: z.string() }),
]);
const Text = z.array(TextPart);

export const StoredReply = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("say"),
    text: Text,
    choices: z.array(z.object({ id: z.string(), label: z.string() })).optional(),
    links: z.array(z.object({ label: z.string(), url: z.string() })).optional(),
  }),
  z.object({
    kind: z.literal("file"),
    name: z.string(),
    base64: z.string(),
    caption: Text.optional(),
    again: Text.optional(),
  }),
  z.object({ kind: z.literal("progress"), key: z.string(), text: Text }),
]);
export type StoredReply = z.infer<typeof StoredReply>;

export const OutboxEntry = z.object({
  /** The message id: delivered at most once under it, where the channel can tell. */
  id: z.string(),
  /** The state's stamp the replies' buttons carry. */
  seq: z.number().int().nonnegative(),
  replies: z.array(StoredReply),
  /** How many of the replies, from the first, went out already (Telegram: not sent again). */
  sent: z.number().int().nonnegative().optional(),
});
export type OutboxEntry = z.infer<typeof OutboxEntry>;

/** More waiting than this and the oldest go: a person gone quiet for weeks needn't get them all. */
export const OUTBOX_MAX = 20;
