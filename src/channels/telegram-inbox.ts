/**
 * Telegram updates kept before they are handled, whichever way they come (telegram-webhook.ts,
 * telegram-polling.ts): an update is in its person's inbox in the store before Telegram is told
 * it arrived (the webhook's answer, the next getUpdates offset), and leaves it once handled. A
 * person's updates are handled one at a time, oldest first, under a lock of theirs in the store,
 * by whichever process holds it. An update id already taken (Telegram sending one again) is
 * taken once.
 *
 * A process killed while a person's updates waited (or while one was being handled) leaves them
 * in the inbox: every process, on start, handles what waits for anyone (the people with updates
 * waiting are kept in an index), instead of leaving it for the person's next message. The one
 * being handled at the kill is handled again, and the engine knows its update id: its turn
 * isn't run twice.
 */
import type { Update } from "grammy/types";
import { z } from "zod";
import { log, logContext } from "../log.js";
import { collection } from "../store/collection.js";
import type { KeyValue, ScoredSets, Store } from "../store/store.js";
import { withLock } from "../store/with-lock.js";
import type { TelegramChannel } from "./telegram.js";

/** How long a person's next update may wait for the process handling their previous one. */
const TURN_WAIT_MS = 5 * 60_000;
/** The index's one key. */
const WAITING = "people";

const Inbox = z.object({
  /** The newest update id taken in: an id at or below it was taken already. */
  last: z.number(),
  /** Updates taken in and not yet handled, oldest first. */
  updates: z.array(z.looseObject({ update_id: z.number() })),
});
type Inbox = z.infer<typeof Inbox>;
export type KeptUpdate = Inbox["updates"][number];

export interface TelegramInboxOptions {
  channel: TelegramChannel;
  store: Store;
  /** The lease of a person's turn lock (JOB_LEASE_MS). */
  leaseMs?: number;
}

export class TelegramInbox {
  private readonly inboxes: KeyValue<Inbox>;
  /** The people with updates waiting: put before an update is kept, taken out once none waits. */
  private readonly waiting: ScoredSets;
  private readonly draining = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly opts: TelegramInboxOptions) {
    this.inboxes = collection(opts.store, "telegram-inbox", Inbox);
    this.waiting = opts.store.scored("telegram-inbox-index");
  }

  /** Whose update it is: the person who wrote or pressed (the bot talks in private chats). */
  static personOf(update: KeptUpdate): number | undefined {
    const u = update as unknown as Update;
    return u.message?.from?.id ?? u.callback_query?.from.id;
  }

  /** Keeps the update in its person's inbox, once. Throws when it couldn't be kept. */
  async keep(person: number, update: KeptUpdate): Promise<void> {
    await withLock(
      this.opts.store.locks,
      `telegram-inbox:${person}`,
      async () => {
        const inbox = (await this.inboxes.get(String(person))) ?? { last: 0, updates: [] };
        if (update.update_id <= inbox.last) return;
        await this.waiting.put(WAITING, String(person), Date.now());
        await this.inboxes.set(String(person), {
          last: update.update_id,
          updates: [...inbox.updates, update],
        });
      },
      { ttlMs: 10_000, waitMs: 10_000 },
    );
  }

  /** Handles what waits for everyone (at start: what a killed process left). */
  async resume(): Promise<void> {
    for (const person of await this.waiting.upTo(WAITING, Number.POSITIVE_INFINITY))
      this.drain(Number(person));
  }

  /** Handles the person's waiting updates, oldest first, one at a time across processes. */
  drain(person: number): void {
    if (this.stopped) return;
    const work = withLock(
      this.opts.store.locks,
      `telegram-turns:${person}`,
      async () => {
        for (;;) {
          if (this.stopped) return;
          const next = (await this.inboxes.get(String(person)))?.updates[0];
          if (!next) return;
          await logContext({ update: next.update_id }, () =>
            this.opts.channel.bot.handleUpdate(next as unknown as Update),
          ).catch((err: unknown) => log.error("telegram update failed", { err }));
          await this.done(person, next.update_id);
        }
      },
      { ttlMs: this.opts.leaseMs ?? 15_000, waitMs: TURN_WAIT_MS },
    )
      .catch((err: unknown) => log.error("telegram: a person's updates wait", { err }))
      .finally(() => this.draining.delete(work));
    this.draining.add(work);
  }

  /** Waits, briefly, for the updates being handled here; the rest are handled by whoever is next. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.race([
      Promise.all(this.draining),
      new Promise((r) => setTimeout(r, 5000).unref()),
    ]);
  }

  private async done(person: number, id: number): Promise<void> {
    await withLock(
      this.opts.store.locks,
      `telegram-inbox:${person}`,
      async () => {
        const inbox = await this.inboxes.get(String(person));
        if (!inbox) return;
        const updates = inbox.updates.filter((u) => u.update_id !== id);
        await this.inboxes.set(String(person), { ...inbox, updates });
        if (updates.length === 0) await this.waiting.remove(WAITING, String(person));
      },
      { ttlMs: 10_000, waitMs: 10_000 },
    );
  }
}
