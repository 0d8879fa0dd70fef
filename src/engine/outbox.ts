/**
 * The engine's side of the outbox (model/outbox.ts): replies to and from their stored form, and
 * the index of users who may have replies waiting, so a process that starts can deliver what a
 * killed one saved but never sent. The index is a hint, kept under its own lease: a user is put
 * in it before their replies are saved, and taken out only by the sweep, under the user's lease,
 * once nothing of theirs waits.
 */
import { z } from "zod";
import type { Reply } from "../chat/conversation.js";
import type { StoredReply } from "../model/outbox.js";
import { collection } from "../store/collection.js";
import type { KeyValue, Store } from "../store/store.js";
import { withLock } from "../store/with-lock.js";

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

export class OutboxIndex {
  private readonly kv: KeyValue<string[]>;

  constructor(private readonly store: Store) {
    this.kv = collection(store, "outbox-index", z.array(z.string()));
  }

  async users(): Promise<string[]> {
    return (await this.kv.get(KEY)) ?? [];
  }

  /** Puts the user in, unless they are in already (one read, most turns). */
  async mark(user: string): Promise<void> {
    if ((await this.users()).includes(user)) return;
    await this.edit((users) => (users.includes(user) ? users : [...users, user]));
  }

  async unmark(user: string): Promise<void> {
    await this.edit((users) => users.filter((u) => u !== user));
  }

  private async edit(change: (users: string[]) => string[]): Promise<void> {
    await withLock(this.store.locks, "outbox-index", async (_lost, fence) => {
      await this.kv.setFenced(KEY, change((await this.kv.get(KEY)) ?? []), fence);
    });
  }
}
