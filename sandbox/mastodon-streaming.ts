/**
 * Mastodon's streaming server (streaming/index.js), WebSocket side, for the notification
 * stream, on the stand-in's own port at /api/v1/streaming (nginx sends that path there):
 *
 * - The token comes from `Authorization: Bearer`, else the `access_token` query parameter or
 *   the `Sec-WebSocket-Protocol` header (accountFromRequest). A missing, unknown or revoked
 *   token fails the upgrade with 401 (since 4.2 every connection needs a user token).
 * - Streams are subscribed with `?stream=` or by sending `{"type":"subscribe","stream":…}`;
 *   `user:notification` needs `read` or `read:notifications`, `user` gets notifications only
 *   with one of those (checkScopes, channelsForUserStream). Errors come back as
 *   `{"error":…,"status":…}` on the socket.
 * - Each event is one text frame `{"stream":["user:notification"],"event":"notification",
 *   "payload":"<the Notification as a JSON string>"}` (streamToWs).
 * - A revoked token's connections are closed at once (the `kill` system message).
 *
 * For tests: dropAll() cuts every connection without a close frame (a restart, a proxy timing
 * out), and setAvailable(false) answers upgrades with nginx's 502 while the streaming server is
 * down, so a client has to poll.
 */

import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { MastodonContext } from "./mastodon-context.js";
import type { NotificationRow } from "./mastodon-notifications.js";
import { notificationJson } from "./mastodon-routes-dm.js";
import type { TokenRow } from "./mastodon-rows.js";

interface Session {
  socket: WebSocket;
  token: TokenRow;
  streams: Set<"user" | "user:notification">;
}

const READ_NOTIFICATIONS = ["read", "read:notifications"];
const READ_STATUSES = ["read", "read:statuses"];

export class Streaming {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Set<Session>();
  private available = true;

  constructor(
    private readonly ctx: MastodonContext,
    server: Server,
  ) {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
    ctx.posting.onNotification((n) => this.publish(n));
    // The `kill` system message: a revoked token's connections close at once.
    ctx.store.onTokenRevoked((token) => {
      for (const s of [...this.sessions])
        if (s.token === token) {
          s.socket.close();
          this.sessions.delete(s);
        }
    });
  }

  setAvailable(available: boolean): void {
    this.available = available;
    if (!available) this.dropAll();
  }

  /** Cuts every open connection without a close frame; returns how many. */
  dropAll(): number {
    const n = this.sessions.size;
    for (const s of this.sessions) s.socket.terminate();
    this.sessions.clear();
    return n;
  }

  /** Open connections (with at least one stream subscribed). */
  get connections(): number {
    return [...this.sessions].filter((s) => s.streams.size > 0).length;
  }

  close(): void {
    this.dropAll();
    this.wss.close();
  }

  private refuse(socket: Duplex, status: number, text: string): void {
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ error: text })}`,
    );
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://sandbox.invalid");
    if (url.pathname.replace(/\/+$/, "") !== "/api/v1/streaming") {
      this.refuse(socket, 404, "Not Found");
      return;
    }
    if (!this.available) {
      this.refuse(socket, 502, "Bad Gateway");
      return;
    }
    const authorization = req.headers.authorization;
    const presented = authorization
      ? authorization.replace(/^Bearer /i, "")
      : url.searchParams.get("access_token") || req.headers["sec-websocket-protocol"];
    const token = presented
      ? this.ctx.store.tokens.get(presented.split(",")[0]!.trim())
      : undefined;
    if (!token || token.revoked || token.accountId === null) {
      this.refuse(socket, 401, "Unauthorized");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session: Session = { socket: ws, token, streams: new Set() };
      this.sessions.add(session);
      ws.on("close", () => this.sessions.delete(session));
      ws.on("error", () => this.sessions.delete(session));
      ws.on("message", (data) => {
        let msg: unknown;
        try {
          msg = JSON.parse(String(data));
        } catch {
          return;
        }
        const { type, stream } = (msg ?? {}) as { type?: unknown; stream?: unknown };
        const name = Array.isArray(stream) ? stream[0] : stream;
        if (type === "subscribe") this.subscribe(session, String(name));
        else if (type === "unsubscribe") session.streams.delete(name as "user");
      });
      const stream = url.searchParams.get("stream");
      if (stream) this.subscribe(session, stream);
    });
  }

  private subscribe(session: Session, name: string): void {
    const send = (error: string, status: number) =>
      session.socket.send(JSON.stringify({ error, status }));
    if (name !== "user" && name !== "user:notification") {
      send("Unknown stream type", 400);
      return;
    }
    const needed = name === "user:notification" ? READ_NOTIFICATIONS : READ_STATUSES;
    if (!needed.some((s) => session.token.scopes.includes(s))) {
      send("Access token does not have the required scopes", 401);
      return;
    }
    session.streams.add(name);
  }

  private publish(n: NotificationRow): void {
    for (const s of [...this.sessions]) {
      if (s.token.revoked) {
        s.socket.close();
        this.sessions.delete(s);
        continue;
      }
      if (s.token.accountId !== n.accountId) continue;
      const stream = s.streams.has("user:notification")
        ? "user:notification"
        : s.streams.has("user") && READ_NOTIFICATIONS.some((x) => s.token.scopes.includes(x))
          ? "user"
          : null;
      if (!stream || s.socket.readyState !== s.socket.OPEN) continue;
      const payload = JSON.stringify(notificationJson(this.ctx, n));
      s.socket.send(JSON.stringify({ stream: [stream], event: "notification", payload }));
    }
  }
}
