/**
 * Telegram updates, whichever way they come (telegram-webhook.ts, telegram-polling.ts), handled
 * with nothing lost to a kill, once, and in order per person. Telegram is told an update arrived
 * (the webhook's answer, the next getUpdates offset) only once it is safe: handled, or kept in
 * its person's inbox in the store.
 *
 * Most updates find nothing of their person's waiting and nobody handling their turns: they are
 * handled at once under the person's turn lock, and Telegram is told once the turn is saved —
 * no inbox round trip (arrive()). A kill before then leaves the update unconfirmed, so Telegram
 * hands it over again; the engine knows the ids it handled (its turn isn't run twice). A turn
 * still running after HANDLE_AT_ONCE_MS is kept in the inbox meanwhile, so Telegram isn't kept
 * waiting, and taken out once it is over.
 *
 * The others (their person's turn running, or updates of theirs waiting) are kept in the inbox
 * and handled one at a time, oldest first, under the same lock, by whichever process holds it.
 * A process killed while updates waited leaves them there: every process, on start, handles what
 * waits for anyone (the people with updates waiting are kept in an index). One being handled at
 * the kill is handled again, and the engine knows its update id.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Update } from "grammy/types";
import { z } from "zod";
import { log, logContext } from "../log.js";
import { collection } from "../store/collection.js";
import type { KeyValue, ScoredSets, Store } from "../store/store.js";
import { LockTimeoutError, withLock } from "../store/with-lock.js";
import type { TelegramChannel } from "./telegram.js";

/** How long a person's next update may wait for the process handling their previous one. */
const TURN_WAIT_MS = 5 * 60_000;
/** How long Telegram waits for a turn handled at once before the update is kept instead. */
const HANDLE_AT_ONCE_MS = 2_000;
/** The index's one key. */
const WAITING = "people";

const Inbox = z.object({
  /**
   * The newest update id kept here. No longer read (the engine knows the ids it handled, the
   * fast path's included); still written, for a process of the version before that reads it.
   */
  last: z.number().default(0),
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
  /** How long a turn handled at once may hold Telegram's answer (HANDLE_AT_ONCE_MS). */
  handleAtOnceMs?: number;
}

export class TelegramInbox {
  private readonly inboxes: KeyValue<Inbox>;
  /** The people with updates waiting: put before an update is kept, taken out once none waits. */
  private readonly waiting: ScoredSets;
  private readonly draining = new Set<Promise<unknown>>();
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

  /**
   * Takes an update in: handled at once when nothing of the person's waits or runs, kept for
   * its turn otherwise. Resolves once Telegram may be told it arrived; throws when it was
   * neither handled nor kept (the store away), and Telegram should send it again.
   */
  async arrive(person: number, update: KeptUpdate): Promise<void> {
    if (this.stopped) return this.keep(person, update);
    // Which of the two happened first, when the turn outlasts HANDLE_AT_ONCE_MS: its end, or
    // the keep that lets Telegram go on meanwhile (the one that sees the other left it to do).
    let finished = false;
    let keeping: Promise<void> | undefined;
    const atOnce = withLock(
      this.opts.store.locks,
      this.turnLock(person),
      async () => {
        if ((await this.inboxes.get(String(person)))?.updates.length) return false;
        await this.handle(update);
        finished = true;
        if (keeping)
          await keeping.then(
            () => this.done(person, update.update_id),
            () => [],
          );
        return true;
      },
      // One try: someone holding it is handling this person's turns.
      { ttlMs: this.leaseMs, waitMs: 0 },
    ).catch((err: unknown) => {
      if (err instanceof LockTimeoutError) return false;
      throw err;
    });
    this.track(atOnce);
    const late = new AbortController();
    const first = await Promise.race([
      atOnce,
      sleep(this.opts.handleAtOnceMs ?? HANDLE_AT_ONCE_MS, "late" as const, {
        signal: late.signal,
      }).catch(() => "late" as const),
    ]).finally(() => late.abort());
    if (first === true || (first === "late" && finished)) return;
    if (first === "late") {
      keeping = this.keep(person, update);
      // Not handled after all (the lock came late, and the inbox held this one by then; or the
      // store failed): the inbox's turn handles it.
      void atOnce.then(
        (handled) => handled || this.drain(person),
        () => this.drain(person),
      );
      return keeping;
    }
    await this.keep(person, update);
    this.drain(person);
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
      this.turnLock(person),
      async () => {
        let waiting = (await this.inboxes.get(String(person)))?.updates ?? [];
        while (waiting.length > 0 && !this.stopped) {
          const next = waiting[0]!;
          await this.handle(next);
          waiting = await this.done(person, next.update_id);
        }
      },
      { ttlMs: this.leaseMs, waitMs: TURN_WAIT_MS },
    ).catch((err: unknown) => log.error("telegram: a person's updates wait", { err }));
    this.track(work);
  }

  /** Waits, briefly, for the updates being handled here; the rest are handled by whoever is next. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.race([
      Promise.all(this.draining),
      new Promise((r) => setTimeout(r, 5000).unref()),
    ]);
  }

  private get leaseMs(): number {
    return this.opts.leaseMs ?? 15_000;
  }

  private turnLock(person: number): string {
    return `telegram-turns:${person}`;
  }

  private track(work: Promise<unknown>): void {
    const settled = work.catch(() => undefined).finally(() => this.draining.delete(settled));
    this.draining.add(settled);
  }

  private async handle(update: KeptUpdate): Promise<void> {
    await logContext({ update: update.update_id }, () =>
      this.opts.channel.bot.handleUpdate(update as unknown as Update),
    ).catch((err: unknown) => log.error("telegram update failed", { err }));
  }

  /** Keeps the update in its person's inbox, once. Throws when it couldn't be kept. */
  private async keep(person: number, update: KeptUpdate): Promise<void> {
    await withLock(
      this.opts.store.locks,
      `telegram-inbox:${person}`,
      async () => {
        const { last, updates } = (await this.inboxes.get(String(person))) ?? {
          last: 0,
          updates: [],
        };
        if (updates.some((u) => u.update_id === update.update_id)) return;
        // In the index before the inbox holds anything, so a start finds every inbox that does.
        if (updates.length === 0) await this.waiting.put(WAITING, String(person), Date.now());
        await this.inboxes.set(String(person), {
          last: Math.max(last, update.update_id),
          updates: [...updates, update],
        });
      },
      { ttlMs: 10_000, waitMs: 10_000 },
    );
  }

  /** Takes a handled update out of the inbox; what still waits, oldest first. */
  private async done(person: number, id: number): Promise<KeptUpdate[]> {
    return withLock(
      this.opts.store.locks,
      `telegram-inbox:${person}`,
      async () => {
        const inbox = await this.inboxes.get(String(person));
        if (!inbox) return [];
        const updates = inbox.updates.filter((u) => u.update_id !== id);
        await this.inboxes.set(String(person), { ...inbox, updates });
        if (updates.length === 0) await this.waiting.remove(WAITING, String(person));
        return updates;
      },
      { ttlMs: 10_000, waitMs: 10_000 },
    );
  }
}
