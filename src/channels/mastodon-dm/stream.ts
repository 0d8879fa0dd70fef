/**
 * The streaming API's notification stream (`user:notification` over WebSocket), through the
 * bot's guarded dispatcher: undici's WebSocket, not Node's global one, so the network guard
 * sees the connection like any other request. Each event is `{stream, event, payload}` with
 * the Notification as a JSON *string* (docs: methods/streaming.md#websocket).
 *
 * It reconnects with backoff (1 s doubling to a minute, with jitter; reset once a connection
 * has stayed up a while) and says when it opened, so the channel can catch up from its cursor
 * every time, and when it is down, so the channel polls meanwhile.
 */

import type { Dispatcher } from "undici";
import { WebSocket } from "undici";
import { z } from "zod";
import { log } from "../../log.js";
import { type Notification, NotificationSchema } from "./api.js";

const Event = z.object({ event: z.string(), payload: z.string().optional() });

export interface StreamHandlers {
  opened(): void;
  closed(): void;
  notification(n: Notification): void;
}

export interface StreamOptions {
  /** wss://host/api/v1/streaming (ws:// only where private networks are allowed). */
  url: string;
  token: string;
  dispatcher: Dispatcher;
  /** First wait before reconnecting; it doubles to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export class NotificationStream {
  private socket?: WebSocket;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;
  private openedAt = 0;
  /** Whether a connection is open now. */
  up = false;

  constructor(
    private readonly opts: StreamOptions,
    private readonly on: StreamHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close();
  }

  private connect(): void {
    if (this.stopped) return;
    const url = new URL(this.opts.url);
    url.searchParams.set("stream", "user:notification");
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, {
        dispatcher: this.opts.dispatcher,
        headers: { authorization: `Bearer ${this.opts.token}` },
      });
    } catch (err) {
      log.warn("mastodon-dm: streaming refused", { err });
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.up = true;
      this.openedAt = Date.now();
      log.info("mastodon-dm: streaming");
      this.on.opened();
    });
    socket.addEventListener("message", (ev) => this.message(ev.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.stopped) return;
      const wasUp = this.up;
      this.up = false;
      if (wasUp) {
        log.info("mastodon-dm: streaming closed; reconnecting");
        this.on.closed();
      }
      if (wasUp && Date.now() - this.openedAt > 30_000) this.failures = 0;
      if (!wasUp && this.failures === 0) {
        log.warn("mastodon-dm: streaming unavailable; polling the notifications meanwhile", {
          at: url.host,
        });
      }
      this.retry();
    });
    // An error is always followed by close, which reconnects.
    socket.addEventListener("error", () => undefined);
  }

  private retry(): void {
    if (this.stopped) return;
    const base = this.opts.backoffMs ?? 1000;
    const wait = Math.min(base * 2 ** this.failures, this.opts.maxBackoffMs ?? 60_000);
    this.failures += 1;
    this.timer = setTimeout(() => this.connect(), wait * (0.75 + Math.random() / 2));
  }

  private message(data: unknown): void {
    if (typeof data !== "string") return;
    try {
      const ev = Event.parse(JSON.parse(data));
      if (ev.event !== "notification" || ev.payload === undefined) return;
      const n = NotificationSchema.safeParse(JSON.parse(ev.payload));
      if (n.success) this.on.notification(n.data);
      else
        log.warn("mastodon-dm: a notification I can't read", {
          at: n.error.issues[0]?.path.join("."),
        });
    } catch {
      // Not an event (a subscription error says so in JSON, but nothing here depends on it).
    }
  }
}
