/**
 * A strict stand-in for the Telegram Bot API, served over real HTTP on 127.0.0.1 so a grammY bot
 * runs against it unchanged (`client: { apiRoot: sandbox.url }`). It refuses what Telegram
 * refuses, with Telegram's status codes and descriptions (taken from tdlib and the Bot API server
 * sources), and lets a test play the user: send texts, documents and photos, press buttons, read
 * the chat as the user sees it, block the bot. Faults (429, 5xx, dropped connections, latency)
 * can be injected per method.
 *
 * The same driving API is served under /control/… so a sandbox started as a separate process
 * (telegram-server.ts) can be driven over HTTP (telegram-remote.ts).
 *
 * This module starts the server and is the handle. What it holds is telegram-state.ts; the
 * Bot API over HTTP is telegram-http.ts, its methods telegram-messages.ts, telegram-files.ts,
 * telegram-commands.ts and telegram-updates.ts (long polling); the user's side is
 * telegram-user.ts, the test's view telegram-observe.ts, the control side telegram-control.ts.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChaosKind, ChaosOptions } from "./chaos.js";
import { telegramControl } from "./telegram-control.js";
import { ApiError } from "./telegram-errors.js";
import { BotApiServer } from "./telegram-http.js";
import { sendJson } from "./telegram-http-util.js";
import { callbackAnswer, chatView, commandsFor, waitFor } from "./telegram-observe.js";
import { TelegramState } from "./telegram-state.js";
import type {
  BotCommand,
  CallbackAnswer,
  CallRecord,
  ChatView,
  FaultSpec,
  MessageView,
  TelegramSandbox,
  TelegramSandboxOptions,
  UserProfile,
} from "./telegram-types.js";
import * as user from "./telegram-user.js";

export { wireMessage } from "./telegram-control.js";
export type { MessageEntity } from "./telegram-text.js";
export type {
  BotCommand,
  CallbackAnswer,
  CallRecord,
  ChatView,
  DocumentView,
  FaultSpec,
  InlineKeyboardButton,
  InlineKeyboardMarkup,
  MessageVersion,
  MessageView,
  TelegramSandbox,
  TelegramSandboxOptions,
  UserProfile,
  WireChat,
  WireDocument,
  WireMessage,
} from "./telegram-types.js";

/** The handle: the state, the Bot API server and the control side, wired together. */
class Sandbox implements TelegramSandbox {
  url = "";
  readonly botId: number;
  private readonly state: TelegramState;
  private readonly http: BotApiServer;
  private readonly server: Server;
  private closed = false;

  constructor(opts: TelegramSandboxOptions) {
    this.state = new TelegramState(opts);
    this.botId = this.state.botId;
    this.http = new BotApiServer(this.state, telegramControl(this));
    this.server = createServer((req, res) => {
      this.http.route(req, res).catch((err) => {
        if (!res.headersSent) {
          sendJson(res, 500, {
            ok: false,
            error_code: 500,
            description: `Internal Server Error: sandbox: ${String(err)}`,
          });
        }
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  get token(): string {
    return this.state.token;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${addr.port}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.state.updates.close();
    for (const close of [...this.state.closers]) close();
    await new Promise<void>((resolve) => {
      // Keep-alive sockets close as soon as they are idle (so the answers above still go out);
      // whatever is still busy after a second is cut.
      const idle = setInterval(() => this.server.closeIdleConnections(), 10);
      const force = setTimeout(() => this.server.closeAllConnections(), 1000);
      this.server.close(() => {
        clearInterval(idle);
        clearTimeout(force);
        resolve();
      });
    });
  }

  // ---- driving it as a user ----

  sendText(userId: number, text: string): Record<string, unknown> {
    return user.sendText(this.state, userId, text);
  }

  sendDocument(
    userId: number,
    doc: { name: string; bytes: Uint8Array; mimeType?: string; caption?: string; size?: number },
  ): Record<string, unknown> {
    return user.sendDocument(this.state, userId, doc);
  }

  sendPhoto(userId: number, opts?: { bytes?: Uint8Array; caption?: string }) {
    return user.sendPhoto(this.state, userId, opts);
  }

  pressButton(userId: number, messageId: number, data: string): string {
    return user.pressButton(this.state, userId, messageId, data);
  }

  setUser(userId: number, profile: UserProfile): void {
    user.setUser(this.state, userId, profile);
  }

  block(userId: number): void {
    user.setBlocked(this.state, userId, true);
  }

  unblock(userId: number): void {
    user.setBlocked(this.state, userId, false);
  }

  // ---- observing ----

  chat(userId: number): ChatView {
    return chatView(this.state, userId);
  }

  waitFor(
    userId: number,
    predicate: (m: MessageView) => boolean,
    timeoutMs?: number,
  ): Promise<MessageView> {
    return waitFor(this.state, userId, predicate, timeoutMs);
  }

  commands(opts?: { scope?: Record<string, unknown>; languageCode?: string }): BotCommand[] {
    return commandsFor(this.state, opts);
  }

  callsTo(method: string): CallRecord[] {
    const name = method.toLowerCase();
    return this.http.calls
      .filter((c) => c.method.toLowerCase() === name)
      .map((c) => structuredClone(c));
  }

  calls(): CallRecord[] {
    return this.http.calls.map((c) => structuredClone(c));
  }

  callbackAnswer(queryId: string): CallbackAnswer | undefined {
    return callbackAnswer(this.state, queryId);
  }

  /** Webhook deliveries answered so far: update id and the bot's status (0: no answer). */
  webhookDeliveries(): readonly { updateId: number; status: number }[] {
    return [...this.state.updates.delivered];
  }

  pendingUpdates(): Record<string, unknown>[] {
    return this.state.updates.pending();
  }

  // ---- faults ----

  failNext(method: string, fault: FaultSpec): void {
    this.http.failNext(method, fault);
  }

  /** The faults failNext queued and not yet used, dropped: every method answers again. */
  clearFaults(): void {
    this.http.clearFaults();
  }

  /**
   * BotFather's /revoke: the bot gets a new token, and the old one is refused from now on with
   * Telegram's 401 `{"ok":false,"error_code":401,"description":"Unauthorized"}` — a long poll
   * waiting on it included (the Bot API server closes the bot's client and fails its pending
   * queries with that answer: tdlib/telegram-bot-api, Client.cpp, on_closed / the
   * "Unauthorized" failure of an invalid bot token).
   */
  revokeToken(): string {
    const id = this.state.token.slice(0, this.state.token.indexOf(":"));
    this.state.token = `${id}:AAH${randomBytes(24).toString("base64url")}`;
    this.state.updates.endPoll(new ApiError(401, "Unauthorized"));
    return this.state.token;
  }

  setLatency(ms: number): void {
    this.http.setLatency(ms);
  }

  /** Random faults on every Bot API call at a rate, seeded (null: off); see chaos.ts. */
  setChaos(options: ChaosOptions | null): void {
    this.http.setChaos(options);
  }

  get chaosInjected(): Readonly<Record<ChaosKind, number>> | null {
    return this.http.chaosInjected;
  }
}

export async function startTelegramSandbox(
  opts: TelegramSandboxOptions = {},
): Promise<TelegramSandbox> {
  const sandbox = new Sandbox(opts);
  await sandbox.listen(opts.port ?? 0);
  return sandbox;
}
