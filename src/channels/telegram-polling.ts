/**
 * Telegram by long polling (getUpdates), when the bot has no public address, with nothing lost
 * to a kill: asking for the updates after an offset confirms every update before it to
 * Telegram, which then never sends them again (core.telegram.org/bots/api#getupdates), so each
 * update is kept in its person's inbox in the store (telegram-inbox.ts) before the next ask.
 * grammY's runner asks again as soon as a batch has arrived, before it is handled: a kill then
 * lost what was still being handled. Handling stays concurrent across people, one at a time
 * per person.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Api } from "grammy";
import { log } from "../log.js";
import type { Store } from "../store/store.js";
import type { TelegramChannel } from "./telegram.js";
import { type KeptUpdate, TelegramInbox } from "./telegram-inbox.js";

/** Telegram holds a getUpdates this long when nothing is new (its limit is 50). */
const POLL_SECONDS = 30;
const BACKOFF_MS = 1000;

export interface TelegramPollingOptions {
  channel: TelegramChannel;
  store: Store;
  /** The lease of a person's turn lock (JOB_LEASE_MS). */
  leaseMs?: number;
}

export class TelegramPolling {
  private readonly inbox: TelegramInbox;
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

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
        log.warn("telegram: getUpdates failed; asking again", { err });
        await sleep(BACKOFF_MS).catch(() => undefined);
        continue;
      }
      for (const got of updates) {
        const update = got as unknown as KeptUpdate;
        const person = TelegramInbox.personOf(update);
        try {
          if (person !== undefined) await this.inbox.keep(person, update);
        } catch (err) {
          // Not kept: not confirmed either; asked for again from this one.
          log.warn("telegram: could not keep an update; asking for it again", { err });
          break;
        }
        offset = update.update_id + 1;
        if (person !== undefined) this.inbox.drain(person);
      }
      if (updates.length > 0 && offset === undefined)
        await sleep(BACKOFF_MS).catch(() => undefined);
    }
  }
}
