/**
 * Telegram by long polling (getUpdates), when the bot has no public address, with nothing lost
 * to a kill: asking for the updates after an offset confirms every update before it to
 * Telegram, which then never sends them again (core.telegram.org/bots/api#getupdates), so each
 * update is handled, or kept in its person's inbox in the store (telegram-inbox.ts), before the
 * next ask. grammY's runner asks again as soon as a batch has arrived, before it is handled: a
 * kill then lost what was still being handled. Handling stays concurrent across people, one at
 * a time per person.
 *
 * What Telegram's refusals mean here (core.telegram.org/bots/api#making-requests, and the Bot
 * API server's texts, tdlib/telegram-bot-api Client.cpp):
 * - 401 "Unauthorized": the token was revoked or is wrong. Asking again can't help: the loop
 *   stops (the channel has told the app, `onTokenRefused`, as it does for a 401 on any call).
 * - 409 "Conflict: terminated by other getUpdates request…" or "…while webhook is active…":
 *   another process polls with this token, or a webhook is set. Said once per conflict, as an
 *   error with what to do; asked again with a growing pause (up to MAX_BACKOFF_MS), so the bot
 *   takes over once the other stops.
 * - 429 with parameters.retry_after (past what auto-retry waits out): that long.
 * - Anything else (5xx, the network): a growing pause, up to MAX_BACKOFF_MS.
 * An update that can't be kept (the store down) is asked for again after a growing pause too,
 * instead of at once: the store and Telegram aren't hammered while the store is away.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Api, GrammyError } from "grammy";
import { log } from "../log.js";
import type { Store } from "../store/store.js";
import type { TelegramChannel } from "./telegram.js";
import { type KeptUpdate, TelegramInbox } from "./telegram-inbox.js";

/** Telegram holds a getUpdates this long when nothing is new (its limit is 50). */
const POLL_SECONDS = 30;
const BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** A 409 this long after the last one is a new conflict, said again. */
const CONFLICT_OVER_MS = 10 * 60_000;

export interface TelegramPollingOptions {
  channel: TelegramChannel;
  store: Store;
  /** The lease of a person's turn lock (JOB_LEASE_MS). */
  leaseMs?: number;
  /** How long a turn handled at once may hold the next ask (telegram-inbox.ts; tests shorten it). */
  handleAtOnceMs?: number;
  /** The pauses: the first after a failure, doubling to the most (tests shorten them). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How a pause is waited (tests record them). */
  pause?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export class TelegramPolling {
  private readonly inbox: TelegramInbox;
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  /** Failures in a row, for the growing pause; a success starts it over. */
  private failures = 0;
  /** 409s in this stretch of conflict, and when the last came (Date.now()). */
  private conflicts = 0;
  private lastConflict = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: TelegramPollingOptions) {
    this.inbox = new TelegramInbox(opts);
  }

  async start(): Promise<void> {
    await this.opts.channel.prepare();
    await this.inbox.resume();
    this.loop = this.poll();
    log.info("telegram: polling", { bot: this.opts.channel.bot.botInfo.username });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    await this.inbox.stop();
  }

  private async poll(): Promise<void> {
    const api = this.opts.channel.bot.api;
    const signal = this.stopping.signal as unknown as Parameters<Api["getUpdates"]>[1];
    let offset: number | undefined;
    while (!this.stopping.signal.aborted) {
      let updates: Awaited<ReturnType<Api["getUpdates"]>>;
      try {
        updates = await api.getUpdates(
          {
            ...(offset === undefined ? {} : { offset }),
            timeout: POLL_SECONDS,
            allowed_updates: ["message", "callback_query"],
          },
          signal,
        );
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        if (!(await this.refused(err))) return;
        continue;
      }
      const taken = await this.takeIn(updates as unknown as KeptUpdate[]);
      if (taken.next !== undefined) offset = taken.next;
      if (taken.all) this.failures = 0;
      else await this.pause(this.nextBackoff());
    }
  }

  /**
   * Takes a batch in: each person's updates in order, people at once. `next`: the offset that
   * confirms what was taken — up to the first update that couldn't be (the store away), which
   * Telegram then sends again with all after it (a person's later ones weren't tried, to keep
   * their order; another person's, taken already, are known to the engine).
   */
  private async takeIn(updates: readonly KeptUpdate[]): Promise<{ next?: number; all: boolean }> {
    const byPerson = new Map<number, KeptUpdate[]>();
    for (const update of updates) {
      const person = TelegramInbox.personOf(update);
      if (person !== undefined) byPerson.set(person, [...(byPerson.get(person) ?? []), update]);
    }
    let failed: { id: number; err: unknown } | undefined;
    await Promise.all(
      [...byPerson].map(async ([person, theirs]) => {
        for (const update of theirs) {
          try {
            await this.inbox.arrive(person, update);
          } catch (err) {
            if (failed === undefined || update.update_id < failed.id)
              failed = { id: update.update_id, err };
            return;
          }
        }
      }),
    );
    if (failed === undefined) {
      const last = updates.at(-1);
      return { all: true, ...(last ? { next: last.update_id + 1 } : {}) };
    }
    // Not taken: not confirmed either; asked for again from this one, after a pause.
    log.warn("telegram: could not take an update in; asking for it again", { err: failed.err });
    return { all: false, next: failed.id };
  }

  /** What a failed getUpdates means: false when polling must stop; else waited as it says. */
  private async refused(err: unknown): Promise<boolean> {
    if (err instanceof GrammyError && err.error_code === 401) {
      log.error("telegram: polling stopped: Telegram refused the bot token", {
        description: err.description,
      });
      return false;
    }
    if (err instanceof GrammyError && err.error_code === 409) {
      // Two pollers each end the other's long poll, so polls that work come between the 409s:
      // the conflict is over only once none came for a while, and is said once per conflict.
      const now = Date.now();
      const fresh = now - this.lastConflict > CONFLICT_OVER_MS;
      this.lastConflict = now;
      if (fresh) {
        this.conflicts = 0;
        const webhook = /webhook/i.test(err.description);
        log.error(
          webhook
            ? "telegram: a webhook is set for this bot, so it can't poll; polling again now and then. Start the bot with PUBLIC_URL (webhook mode), or remove the webhook (deleteWebhook) to poll"
            : "telegram: another process is polling with this bot's token; polling again now and then. Run one polling process per bot (or set PUBLIC_URL so every process takes updates by webhook)",
          { description: err.description },
        );
      }
      await this.pause(this.backoff(this.conflicts++));
      return true;
    }
    const retryAfter = err instanceof GrammyError ? err.parameters.retry_after : undefined;
    if (retryAfter !== undefined) {
      log.warn("telegram: getUpdates limited; waiting as Telegram asks", { retryAfter });
      await this.pause(retryAfter * 1000);
      return true;
    }
    log.warn("telegram: getUpdates failed; asking again", { err });
    await this.pause(this.nextBackoff());
    return true;
  }

  private nextBackoff(): number {
    return this.backoff(this.failures++);
  }

  /** The pause after `n` failures before: the first, doubling to the most. */
  private backoff(n: number): number {
    const first = this.opts.backoffMs ?? BACKOFF_MS;
    return Math.min(first * 2 ** n, this.opts.maxBackoffMs ?? MAX_BACKOFF_MS);
  }

  private async pause(ms: number): Promise<void> {
    const wait = this.opts.pause ?? ((t, signal) => sleep(t, undefined, { signal }));
    await wait(ms, this.stopping.signal).catch(() => undefined);
  }
}
