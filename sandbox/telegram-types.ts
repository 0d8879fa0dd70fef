/**
 * The public types of the Telegram stand-in: what a test sees of chats, messages and calls,
 * the faults it can inject, the handle startTelegramSandbox gives back (re-exported by
 * telegram.ts), and the JSON-safe forms the control endpoints send them in.
 */

import type { ChaosKind, ChaosOptions } from "./chaos.js";
import type { MessageEntity } from "./telegram-text.js";

export interface InlineKeyboardButton {
  text: string;
  url?: string;
  callback_data?: string;
  web_app?: { url: string };
  copy_text?: { text: string };
  switch_inline_query?: string;
  switch_inline_query_current_chat?: string;
}
export interface InlineKeyboardMarkup {
  inline_keyboard: InlineKeyboardButton[][];
}

export interface FaultSpec {
  /** HTTP status and error_code, e.g. 429, 500, 403. */
  status: number;
  /** Defaults: "Too Many Requests: retry after N" for 429, else the status's standard prefix. */
  description?: string;
  /** Adds parameters.retry_after. */
  retryAfter?: number;
  /** How many consecutive calls fail (default 1). */
  times?: number;
  /** Send this raw body (e.g. an nginx HTML page) instead of the JSON error. */
  rawBody?: string;
  /** Destroy the connection instead of answering (a network error for the client). */
  drop?: boolean;
}

export interface CallRecord {
  method: string;
  args: Record<string, string>;
  /** Uploaded files by form field: the filename sent. */
  files: Record<string, string>;
  status: number;
  ok: boolean;
  description?: string;
  at: number;
}

export interface DocumentView {
  fileId: string;
  fileUniqueId: string;
  name?: string;
  mimeType?: string;
  size: number;
  bytes: Buffer;
}

export interface MessageVersion {
  at: number;
  /** Text (or caption) after entity parsing, as users see it. */
  text?: string;
  /** Text (or caption) exactly as the bot sent it. */
  source?: string;
  /** `source` when parse_mode was HTML. */
  html?: string;
  parseMode?: string;
  entities?: MessageEntity[];
  replyMarkup?: InlineKeyboardMarkup;
}

export interface MessageView extends MessageVersion {
  messageId: number;
  from: "bot" | "user";
  date: number;
  kind: "text" | "document" | "photo";
  document?: DocumentView;
  photo?: DocumentView[];
  /** Every version, first as sent then one per edit. */
  versions: MessageVersion[];
  /** versions.slice(1). */
  edits: MessageVersion[];
  deleted: boolean;
  replyToMessageId?: number;
  /** The Message object as the Bot API returns it now. */
  raw: Record<string, unknown>;
}

export interface ChatView {
  userId: number;
  exists: boolean;
  blocked: boolean;
  /** Both sides, in order. */
  messages: MessageView[];
  /** What the bot sent. */
  bot: MessageView[];
  /** What the user sent. */
  user: MessageView[];
  /** sendChatAction calls, in order. */
  actions: string[];
}

export interface CallbackAnswer {
  text?: string;
  showAlert: boolean;
  url?: string;
  cacheTime?: number;
}

export interface BotCommand {
  command: string;
  description: string;
}

export interface UserProfile {
  firstName?: string;
  lastName?: string;
  username?: string;
  languageCode?: string;
}

export interface TelegramSandboxOptions {
  port?: number;
  token?: string;
  /** Bot profile returned by getMe. */
  botName?: string;
  botUsername?: string;
  /** After this long a callback query can no longer be answered (default 15 s). */
  callbackQueryTtlMs?: number;
  /**
   * Take webhooks over http to 127.0.0.1/localhost on any port (off: only what Telegram takes,
   * https on 443, 80, 88 or 8443 to a public address). For tests that run a bot on loopback,
   * where no certificate can be had.
   */
  allowLoopbackHttp?: boolean;
}

export interface TelegramSandbox {
  /** The apiRoot for grammY, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly token: string;
  readonly botId: number;
  close(): Promise<void>;

  // driving it as a user
  sendText(userId: number, text: string): Record<string, unknown>;
  sendDocument(
    userId: number,
    doc: { name: string; bytes: Uint8Array; mimeType?: string; caption?: string; size?: number },
  ): Record<string, unknown>;
  sendPhoto(
    userId: number,
    opts?: { bytes?: Uint8Array; caption?: string },
  ): Record<string, unknown>;
  /** Returns the new callback query id. Throws if the message or button doesn't exist. */
  pressButton(userId: number, messageId: number, data: string): string;
  setUser(userId: number, profile: UserProfile): void;
  block(userId: number): void;
  unblock(userId: number): void;

  // observing
  chat(userId: number): ChatView;
  waitFor(
    userId: number,
    predicate: (m: MessageView) => boolean,
    timeoutMs?: number,
  ): Promise<MessageView>;
  commands(opts?: { scope?: Record<string, unknown>; languageCode?: string }): BotCommand[];
  callsTo(method: string): CallRecord[];
  calls(): CallRecord[];
  callbackAnswer(queryId: string): CallbackAnswer | undefined;
  pendingUpdates(): Record<string, unknown>[];
  /** Webhook deliveries answered so far: update id and the bot's status (0: no answer). */
  webhookDeliveries(): readonly { updateId: number; status: number }[];

  // faults
  failNext(method: string, fault: FaultSpec): void;
  /** The faults failNext queued and not yet used, dropped: every method answers again. */
  clearFaults(): void;
  /** BotFather's /revoke: the current token answers 401 Unauthorized from now on; the new one. */
  revokeToken(): string;
  setLatency(ms: number): void;
  /** Random faults on every Bot API call at a rate, seeded (null: off); see chaos.ts. */
  setChaos(options: ChaosOptions | null): void;
  /** How many random faults of each kind were given since setChaos (null: chaos is off). */
  readonly chaosInjected: Readonly<Record<ChaosKind, number>> | null;
}

/** JSON-safe forms for the control endpoints: file bytes as base64. */
export type WireDocument = Omit<DocumentView, "bytes"> & { bytesBase64: string };
export type WireMessage = Omit<MessageView, "document" | "photo"> & {
  document?: WireDocument;
  photo?: WireDocument[];
};
export type WireChat = Omit<ChatView, "messages" | "bot" | "user"> & {
  messages: WireMessage[];
  bot: WireMessage[];
  user: WireMessage[];
};
