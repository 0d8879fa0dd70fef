/**
 * Updates in the Telegram stand-in: the queue of updates for the bot (filtered by
 * allowed_updates), getUpdates with offsets and long polling (one poller at a time: a second
 * one ends the first with 409 Conflict, as Telegram does), and the webhook methods a polling
 * bot calls.
 */

import { randomInt } from "node:crypto";
import { ApiError, toBool, toInt } from "./telegram-errors.js";

/** core.telegram.org/bots/api: getUpdates timeout is capped at 50 s. */
const MAX_LONG_POLL = 50;

const DEFAULT_UPDATES = [
  "message",
  "edited_message",
  "channel_post",
  "edited_channel_post",
  "business_connection",
  "business_message",
  "edited_business_message",
  "deleted_business_messages",
  "inline_query",
  "chosen_inline_result",
  "callback_query",
  "shipping_query",
  "pre_checkout_query",
  "purchased_paid_media",
  "poll",
  "poll_answer",
  "my_chat_member",
  "chat_join_request",
  "chat_boost",
  "removed_chat_boost",
];

interface Poller {
  limit: number;
  resolve: (updates: Record<string, unknown>[]) => void;
  reject: (err: ApiError) => void;
  timer: NodeJS.Timeout;
}

export class Updates {
  private queue: Record<string, unknown>[] = [];
  private nextUpdateId = 100_000_000 + randomInt(0, 800_000_000);
  private allowed = new Set(DEFAULT_UPDATES);
  private poller?: Poller;
  private closed = false;

  /** Queues an update of that kind (unless allowed_updates leaves it out) and wakes a poller. */
  enqueue(kind: string, payload: Record<string, unknown>): void {
    if (!this.allowed.has(kind)) return;
    this.queue.push({ update_id: this.nextUpdateId++, [kind]: payload });
    const poller = this.poller;
    if (poller) {
      this.poller = undefined;
      clearTimeout(poller.timer);
      poller.resolve(this.queue.slice(0, poller.limit));
    }
  }

  pending(): Record<string, unknown>[] {
    return structuredClone(this.queue);
  }

  /** The sandbox is closing: a waiting poller gets no updates, later ones don't wait. */
  close(): void {
    this.closed = true;
    const poller = this.poller;
    this.poller = undefined;
    if (poller) {
      clearTimeout(poller.timer);
      poller.resolve([]);
    }
  }

  getUpdates(args: Record<string, string>, signal: AbortSignal): unknown {
    const offset = toInt(args.offset);
    const limit = Math.min(100, Math.max(1, toInt(args.limit, 100)));
    const timeout = Math.min(MAX_LONG_POLL, Math.max(0, toInt(args.timeout)));
    if (args.allowed_updates !== undefined) {
      try {
        const list = JSON.parse(args.allowed_updates);
        if (Array.isArray(list)) {
          const names = list.filter((x): x is string => typeof x === "string");
          this.allowed = new Set(names.length > 0 ? names : DEFAULT_UPDATES);
        }
      } catch {
        // ignored, like the Bot API does
      }
    }
    if (offset > 0) {
      this.queue = this.queue.filter((u) => (u.update_id as number) >= offset);
    } else if (offset < 0) {
      this.queue = this.queue.slice(offset);
    }
    const previous = this.poller;
    if (previous) {
      this.poller = undefined;
      clearTimeout(previous.timer);
      previous.reject(
        new ApiError(
          409,
          "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        ),
      );
    }
    if (this.queue.length > 0 || timeout === 0 || this.closed) {
      return this.queue.slice(0, limit);
    }
    return new Promise((resolve, reject) => {
      const poller: Poller = {
        limit,
        resolve,
        reject,
        timer: setTimeout(() => {
          if (this.poller === poller) this.poller = undefined;
          resolve([]);
        }, timeout * 1000),
      };
      this.poller = poller;
      signal.addEventListener("abort", () => {
        if (this.poller === poller) {
          this.poller = undefined;
          clearTimeout(poller.timer);
        }
      });
    });
  }

  deleteWebhook(args: Record<string, string>): boolean {
    if (toBool(args.drop_pending_updates)) this.queue = [];
    return true;
  }

  webhookInfo() {
    return { url: "", has_custom_certificate: false, pending_update_count: this.queue.length };
  }
}
