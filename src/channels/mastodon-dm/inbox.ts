/**
 * What the channel keeps so that no message is lost and none is answered twice, across
 * reconnects and restarts: the notifications cursor (every mention up to it has been taken
 * in), the ids taken in above it (the stream may run ahead of the cursor), and the work not
 * yet finished, in the order it came — a message waiting for its turn, or the posts of an
 * answer not all posted yet. A message's text is never kept (it may hold a secret): the status
 * is read again from the server when a restart finds it unanswered.
 *
 * One record, written whole under one in-process queue: the channel runs in one process per
 * bot account (the channel holds a lease on it while it runs), and every write is fenced by
 * that lease, so a process that lost it (paused, cut off) can't write over its successor's.
 */
import { z } from "zod";
import { type UserKey, UserKeySchema } from "../../chat/conversation.js";
import { collection } from "../../store/collection.js";
import type { Fence, KeyValue, Store } from "../../store/store.js";
import { compareIds } from "./api.js";

const Post = z.object({ text: z.string(), key: z.string() });

export const Item = z.object({
  /** The notification's id, or "n:…" for replies outside a turn (a job's report). */
  id: z.string(),
  user: UserKeySchema,
  /** The person's acct as the bot's server writes it (ada, or ada@far.example). */
  acct: z.string(),
  /** The status the answer replies to (the person's message), if any. */
  replyTo: z.string().nullable(),
  /** received: the turn hasn't run; delivering: these posts go out, `posted` are done. */
  phase: z.enum(["received", "delivering"]),
  posts: z.array(Post).default([]),
  posted: z.array(z.string()).default([]),
});
export type Item = z.infer<typeof Item>;

const Record_ = z.object({
  cursor: z.string().nullable(),
  seen: z.array(z.string()),
  items: z.array(Item),
});
type InboxRecord = z.infer<typeof Record_>;

function knownIn(r: InboxRecord, id: string): boolean {
  return (r.cursor !== null && compareIds(id, r.cursor) <= 0) || r.seen.includes(id);
}

export class Inbox {
  private readonly kv: KeyValue<InboxRecord>;
  private record: InboxRecord = { cursor: null, seen: [], items: [] };
  private writes: Promise<void> = Promise.resolve();
  /** The channel's lease: writes are refused once another process holds it. */
  fence?: Fence;

  constructor(
    store: Store,
    private readonly key: string,
  ) {
    this.kv = collection(store, "mastodon-dm", Record_);
  }

  /** Reads what was kept; false on the very first start (nothing kept yet). */
  async load(): Promise<boolean> {
    const kept = await this.kv.get(this.key);
    this.record = kept ?? { cursor: null, seen: [], items: [] };
    return kept !== undefined;
  }

  get cursor(): string | null {
    return this.record.cursor;
  }

  /** Whether this notification was taken in already. */
  known(id: string): boolean {
    return knownIn(this.record, id);
  }

  itemsOf(user: UserKey): Item[] {
    return this.record.items.filter((i) => i.user === user);
  }

  users(): UserKey[] {
    return [...new Set(this.record.items.map((i) => i.user))];
  }

  /** Applies a change and saves the record; changes are applied one at a time. */
  private change(fn: (r: InboxRecord) => void): Promise<void> {
    const run = this.writes.then(async () => {
      fn(this.record);
      if (this.fence) await this.kv.setFenced(this.key, this.record, this.fence);
      else await this.kv.set(this.key, this.record);
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** Takes a notification in (or just marks it seen, when there's nothing to do). */
  take(id: string, item: Item | null): Promise<void> {
    return this.change((r) => {
      // Checked again here, where changes apply one at a time: the stream and the catch-up
      // may both have asked known() before either's change was applied.
      if (knownIn(r, id)) return;
      r.seen.push(id);
      if (item) r.items.push(item);
    });
  }

  /** Every mention up to `id` has been listed by the server and taken in. */
  advance(id: string): Promise<void> {
    return this.change((r) => {
      if (r.cursor !== null && compareIds(id, r.cursor) <= 0) return;
      r.cursor = id;
      r.seen = r.seen.filter((s) => compareIds(s, id) > 0);
    });
  }

  /** Adds the item last, or just before the item `before` while that one is still there. */
  add(item: Item, before?: string): Promise<void> {
    return this.change((r) => {
      const at = before === undefined ? -1 : r.items.findIndex((x) => x.id === before);
      if (at === -1) r.items.push(item);
      else r.items.splice(at, 0, item);
    });
  }

  update(id: string, patch: Partial<Item>): Promise<void> {
    return this.change((r) => {
      const i = r.items.findIndex((x) => x.id === id);
      if (i !== -1) r.items[i] = { ...r.items[i]!, ...patch };
    });
  }

  done(id: string): Promise<void> {
    return this.change((r) => {
      r.items = r.items.filter((x) => x.id !== id);
    });
  }
}
