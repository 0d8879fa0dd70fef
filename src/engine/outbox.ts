/**
 * The engine's side of the outbox (model/outbox.ts): replies to and from their stored form, and
 * the index of users who may have replies waiting, so a process that starts can deliver what a
 * killed one saved but never sent. The index is a hint: a user is put in it before their replies
 * are saved, and taken out only by the sweep, under the user's lease, once nothing of theirs waits.
 */
import type { Reply } from "../chat/conversation.js";
import type { StoredReply } from "../model/outbox.js";
import type { ScoredSets, Store } from "../store/store.js";

export function toStored(reply: Reply): StoredReply {
  if (reply.kind !== "file") return { ...reply } as StoredReply;
  const { bytes, ...rest } = reply;
  return { ...rest, base64: Buffer.from(bytes).toString("base64") } as StoredReply;
}

export function fromStored(reply: StoredReply): Reply {
  if (reply.kind !== "file") return reply;
  const { base64, ...rest } = reply;
  return { ...rest, bytes: new Uint8Array(Buffer.from(base64, "base64")) };
}

const KEY = "users";

/**
 * A scored set, not a list: marking is one idempotent write with no lock and no read, so a
 * turn doesn't pay for everyone else in the index (a JSON list read and rewritten under a
 * global lock halved the engine's messages per second). Marking and unmarking a user both
 * happen under that user's lease, so they never race each other.
 */
export class OutboxIndex {
  private readonly set: ScoredSets;

  constructor(store: Store) {
    this.set = store.scored("outbox-index");
  }

  async users(): Promise<string[]> {
    return this.set.upTo(KEY, Number.POSITIVE_INFINITY);
  }

  /** Puts the user in (or leaves them in, oldest mark first for the sweep). */
  async mark(user: string): Promise<void> {
    await this.set.put(KEY, user, Date.now());
  }

  async unmark(user: string): Promise<void> {
    await this.set.remove(KEY, user);
  }
}
