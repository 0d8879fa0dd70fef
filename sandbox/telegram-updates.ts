/**
 * Updates in the Telegram stand-in: the queue of updates for the bot (filtered by
 * allowed_updates), getUpdates with offsets and long polling (one poller at a time: a second
 * one ends the first with 409 Conflict, as Telegram does), and the webhook
 * (core.telegram.org/bots/api#setwebhook): setWebhook with secret_token and max_connections,
 * deleteWebhook, getWebhookInfo, and delivery — each update POSTed as JSON to the URL with the
 * header X-Telegram-Bot-Api-Secret-Token, in order, at most max_connections at once (default
 * 40), an update taken off the queue only by a 2xx and tried again otherwise; getUpdates
 * refused with 409 while a webhook is set, and a long poll waiting when one is set ended with
 * 409 "Conflict: terminated by setWebhook request". The URL is checked as Telegram checks it
 * (telegram-webhook-url.ts), with one liberty a test opts into (`allowLoopbackHttp`): http on
 * loopback, where no certificate can be had.
 */

import { randomInt } from "node:crypto";
import { ApiError, toBool, toInt } from "./telegram-errors.js";
import {
  fitsDeliveryHeader,
  parseWebhookUrl,
  refuseWebhookTarget,
} from "./telegram-webhook-url.js";

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
  private webhook?: {
    url: string;
    secret?: string;
    maxConnections: number;
    /** False when the request header would be too long: Telegram then never delivers. */
    deliverable: boolean;
  };
  /** Updates being POSTed now, by id. */
  private readonly delivering = new Set<number>();
  private retry?: NodeJS.Timeout;
  /** Deliveries answered, in the order they were answered (tests read it). */
  readonly delivered: { updateId: number; status: number }[] = [];

  /** `allowLoopbackHttp`: take http webhooks on 127.0.0.1/localhost, any port (tests opt in). */
  constructor(private readonly allowLoopbackHttp = false) {}

  /** Queues an update of that kind (unless allowed_updates leaves it out) and wakes a poller. */
  enqueue(kind: string, payload: Record<string, unknown>): void {
    if (!this.allowed.has(kind)) return;
    this.queue.push({ update_id: this.nextUpdateId++, [kind]: payload });
    if (this.webhook) {
      this.pump();
      return;
    }
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
    this.webhook = undefined;
    clearTimeout(this.retry);
    const poller = this.poller;
    this.poller = undefined;
    if (poller) {
      clearTimeout(poller.timer);
      poller.resolve([]);
    }
  }

  /** Ends a waiting long poll with this error (the token it was made with was revoked). */
  endPoll(err: ApiError): void {
    const poller = this.poller;
    this.poller = undefined;
    if (poller) {
      clearTimeout(poller.timer);
      poller.reject(err);
    }
  }

  /** `allowed_updates` of getUpdates or setWebhook: kept until changed; none given, no change. */
  private allowUpdates(raw: string | undefined): void {
    if (raw === undefined) return;
    try {
      const list = JSON.parse(raw);
      if (Array.isArray(list)) {
        const names = list.filter((x): x is string => typeof x === "string");
        this.allowed = new Set(names.length > 0 ? names : DEFAULT_UPDATES);
      }
    } catch {
      // ignored, like the Bot API does
    }
  }

  getUpdates(args: Record<string, string>, signal: AbortSignal): unknown {
    if (this.webhook)
      throw new ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      );
    const offset = toInt(args.offset);
    const limit = Math.min(100, Math.max(1, toInt(args.limit, 100)));
    const timeout = Math.min(MAX_LONG_POLL, Math.max(0, toInt(args.timeout)));
    this.allowUpdates(args.allowed_updates);
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

  setWebhook(args: Record<string, string>): boolean {
    const raw = args.url ?? "";
    if (raw === "") return this.deleteWebhook(args);
    const url = parseWebhookUrl(raw);
    const secret = args.secret_token;
    // "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed."
    if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret))
      throw new ApiError(400, "Bad Request: secret token contains unallowed characters");
    const maxConnections = toInt(args.max_connections, 40);
    if (maxConnections < 1 || maxConnections > 100)
      throw new ApiError(400, "Bad Request: max_connections must be between 1 and 100");
    this.allowUpdates(args.allowed_updates);
    if (toBool(args.drop_pending_updates)) this.queue = [];
    // Telegram closes the webhook it had before starting the new one, which then refuses to
    // start (Client.cpp do_set_webhook, on_webhook_closed): a refused URL leaves none set.
    try {
      refuseWebhookTarget(url, this.allowLoopbackHttp);
    } catch (err) {
      this.webhook = undefined;
      throw err;
    }
    this.webhook = {
      url: url.href,
      secret,
      maxConnections,
      deliverable: fitsDeliveryHeader(url, secret),
    };
    // A long poll waiting now ends (tdlib/telegram-bot-api Client.cpp, abort_long_poll with
    // from_set_webhook): the poller learns at once, not when its timeout runs out.
    this.endPoll(new ApiError(409, "Conflict: terminated by setWebhook request"));
    this.pump();
    return true;
  }

  deleteWebhook(args: Record<string, string>): boolean {
    this.webhook = undefined;
    if (toBool(args.drop_pending_updates)) this.queue = [];
    return true;
  }

  webhookInfo() {
    return {
      url: this.webhook?.url ?? "",
      has_custom_certificate: false,
      pending_update_count: this.queue.length,
      ...(this.webhook ? { max_connections: this.webhook.maxConnections } : {}),
    };
  }

  /** Sends what is queued, in order, as many at once as max_connections allows. */
  private pump(): void {
    const hook = this.webhook;
    if (!hook || this.closed || !hook.deliverable) return;
    for (const update of this.queue) {
      if (this.delivering.size >= hook.maxConnections) return;
      const id = update.update_id as number;
      if (this.delivering.has(id)) continue;
      this.delivering.add(id);
      void this.deliver(hook, update).then((ok) => {
        this.delivering.delete(id);
        if (ok) this.queue = this.queue.filter((u) => u.update_id !== id);
        if (ok) this.pump();
        else {
          clearTimeout(this.retry);
          this.retry = setTimeout(() => this.pump(), 500);
          this.retry.unref();
        }
      });
    }
  }

  private async deliver(
    hook: { url: string; secret?: string },
    update: Record<string, unknown>,
  ): Promise<boolean> {
    let status = 0;
    try {
      const res = await fetch(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(hook.secret ? { "x-telegram-bot-api-secret-token": hook.secret } : {}),
        },
        body: JSON.stringify(update),
        signal: AbortSignal.timeout(60_000),
      });
      status = res.status;
      await res.arrayBuffer();
    } catch {
      status = 0;
    }
    this.delivered.push({ updateId: update.update_id as number, status });
    return status >= 200 && status < 300;
  }
}
