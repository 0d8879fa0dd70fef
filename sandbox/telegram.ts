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
 */
import { randomBytes, randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { BodyTooLarge, FaultQueue, readBody, sleep } from "./http-pipeline.js";
import {
  byteLength,
  checkLink,
  fixFormattedText,
  type MessageEntity,
  parseHtml,
  TextError,
} from "./telegram-html.js";
import {
  BadBody,
  type DecodedRequest,
  decodeRequest,
  sendJson,
  type UploadedFile,
} from "./telegram-http-util.js";

export type { MessageEntity } from "./telegram-html.js";

// ---- limits (core.telegram.org/bots/api) ----
const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;
const MAX_CALLBACK_DATA = 64;
const MAX_DOWNLOAD = 20 * 1024 * 1024;
const MAX_UPLOAD = 50 * 1024 * 1024;
const MAX_LONG_POLL = 50;

// ---- public types ----

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

  // faults
  failNext(method: string, fault: FaultSpec): void;
  setLatency(ms: number): void;
}

// ---- errors ----

/** An error answer of the Bot API. */
class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly retryAfter?: number,
  ) {
    super(description);
  }
}

/**
 * A tdlib-level error text, turned into the Bot API description the way the Bot API server does
 * (fail_query_with_error): "Bad Request: " + the text with its first letter lowercased, unless
 * it is an UPPER_CASE server error code.
 */
function bad(message: string): ApiError {
  const keep = message.length >= 2 && (message[1] === "_" || /[A-Z]/.test(message[1] as string));
  const text = keep ? message : (message[0] as string).toLowerCase() + message.slice(1);
  return new ApiError(400, `Bad Request: ${text}`);
}

const blocked = () => new ApiError(403, "Forbidden: bot was blocked by the user");
const notModified = () =>
  new ApiError(
    400,
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
  );

/** tdlib's JSON field errors, produced from a zod schema. */
class FieldError extends Error {}

const TYPE_NAMES: Record<string, string> = {
  string: "String",
  boolean: "Boolean",
  number: "Number",
  int: "Number",
  object: "Object",
  array: "Array",
};

function tdParse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0] as z.core.$ZodIssue;
  const key = issue.path[issue.path.length - 1];
  if (issue.code === "invalid_type" && typeof key === "string") {
    let actual: unknown = value;
    for (const p of issue.path) actual = (actual as Record<PropertyKey, unknown>)?.[p];
    if (actual === undefined) throw new FieldError(`Can't find field "${key}"`);
    throw new FieldError(
      `Field "${key}" must be of type ${TYPE_NAMES[issue.expected] ?? issue.expected}`,
    );
  }
  throw new FieldError(issue.message);
}

// tdlib accepts numbers where it wants strings.
const tdString = z.preprocess((v) => (typeof v === "number" ? String(v) : v), z.string());
const tdInt = z.preprocess(
  (v) => (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v),
  z.number().int(),
);

function parseJsonArg(raw: string, errorText: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw bad(errorText);
  }
}

/** td::to_integer: leading integer or 0, never an error. */
function toInt(raw: string | undefined, fallback = 0): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const m = /^\s*([+-]?\d+)/.exec(raw);
  return m ? Number(m[1]) : 0;
}

const toBool = (raw: string | undefined) =>
  raw !== undefined && ["true", "yes", "1"].includes(raw.trim().toLowerCase());

// ---- internal records ----

interface UserRec {
  id: number;
  firstName: string;
  lastName?: string;
  username?: string;
  languageCode: string;
  blocked: boolean;
}

interface FileRec {
  fileId: string;
  fileUniqueId: string;
  kind: "document" | "photo";
  bytes: Buffer;
  size: number;
  name?: string;
  mimeType?: string;
  width?: number;
  height?: number;
  path?: string;
}

interface StoredMessage {
  chatId: number;
  messageId: number;
  from: "bot" | "user";
  date: number;
  kind: "text" | "document" | "photo";
  current: MessageVersion;
  versions: MessageVersion[];
  document?: FileRec;
  photo?: FileRec[];
  linkPreview?: Record<string, unknown>;
  replyTo?: StoredMessage;
  editDate?: number;
  deleted: boolean;
}

interface ChatRec {
  user: UserRec;
  messages: Map<number, StoredMessage>;
  order: StoredMessage[];
  nextMessageId: number;
  chatInstance: string;
  actions: string[];
}

interface CallbackRec {
  id: string;
  userId: number;
  messageId: number;
  data: string;
  createdAt: number;
  answer?: CallbackAnswer;
}

interface Poller {
  limit: number;
  resolve: (updates: Record<string, unknown>[]) => void;
  reject: (err: ApiError) => void;
  timer: NodeJS.Timeout;
}

interface Ctx {
  args: Record<string, string>;
  files: Record<string, UploadedFile>;
  signal: AbortSignal;
}

type Handler = (ctx: Ctx) => unknown;

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

const CHAT_ACTIONS = new Set([
  "typing",
  "upload_photo",
  "record_video",
  "upload_video",
  "record_voice",
  "upload_voice",
  "upload_document",
  "choose_sticker",
  "find_location",
  "record_video_note",
  "upload_video_note",
]);

const MIME_BY_EXT: Record<string, string> = {
  txt: "text/plain",
  csv: "text/csv",
  json: "application/json",
  html: "text/html",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  mp4: "video/mp4",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  xml: "application/xml",
};

function mimeFor(name: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
  return ext ? MIME_BY_EXT[ext] : undefined;
}

const now = () => Math.floor(Date.now() / 1000);
const b64url = (n: number) => randomBytes(n).toString("base64url");
const numericId = () =>
  `${randomInt(1, 9)}${String(randomInt(0, 1e9)).padStart(9, "0")}${String(randomInt(0, 1e9)).padStart(9, "0")}`;

// ---- reply markup ----

const boolFields = [
  "hide_keyboard",
  "remove_keyboard",
  "personal_keyboard",
  "selective",
  "force_reply_keyboard",
  "force_reply",
  "resize_keyboard",
  "one_time_keyboard",
  "is_persistent",
] as const;

const inlineButtonSchema = z.object({
  text: tdString,
  url: tdString.optional(),
  callback_data: tdString.optional(),
  switch_inline_query: tdString.optional(),
  switch_inline_query_current_chat: tdString.optional(),
  web_app: z.object({ url: tdString }).optional(),
  copy_text: z.object({ text: tdString }).optional(),
  login_url: z
    .object({
      url: tdString,
      bot_username: tdString.optional(),
      request_write_access: z.boolean().optional(),
      forward_text: tdString.optional(),
    })
    .optional(),
  switch_inline_query_chosen_chat: z
    .object({
      query: tdString.optional(),
      allow_user_chats: z.boolean().optional(),
      allow_bot_chats: z.boolean().optional(),
      allow_group_chats: z.boolean().optional(),
      allow_channel_chats: z.boolean().optional(),
    })
    .optional(),
});

type ParsedButton =
  | { text: string; kind: "url"; url: string }
  | { text: string; kind: "callback"; data: string }
  | { text: string; kind: "web_app"; url: string }
  | { text: string; kind: "copy_text"; copy: string }
  | { text: string; kind: "switch"; query: string; current: boolean }
  | { text: string; kind: "unsupported"; error: string };

interface ParsedMarkup {
  inline?: ParsedButton[][];
}

/** Structural parsing, as the Bot API server does before it looks at the chat. */
function parseReplyMarkup(raw: string | undefined): ParsedMarkup | undefined {
  if (raw === undefined || raw === "") return undefined;
  const value = parseJsonArg(raw, "Can't parse reply keyboard markup JSON object");
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("Object expected as reply markup");
  }
  const obj = value as Record<string, unknown>;
  for (const field of boolFields) {
    if (obj[field] !== undefined && typeof obj[field] !== "boolean") {
      throw bad(`Field "${field}" must be of type Boolean`);
    }
  }
  if (obj.keyboard !== undefined) {
    if (!Array.isArray(obj.keyboard)) throw bad(`Field "keyboard" must be of type Array`);
    for (const row of obj.keyboard) {
      if (!Array.isArray(row)) throw bad(`Field "keyboard" must be an Array of Arrays`);
      for (const button of row) {
        if (typeof button === "string") continue;
        try {
          tdParse(z.object({ text: tdString }), button);
        } catch (e) {
          if (e instanceof FieldError) throw bad(`Can't parse keyboard button: ${e.message}`);
          throw e;
        }
      }
    }
  }
  if (obj.inline_keyboard === undefined) return {};
  if (!Array.isArray(obj.inline_keyboard)) {
    throw bad(`Field "inline_keyboard" must be of type Array`);
  }
  const rows: ParsedButton[][] = [];
  for (const row of obj.inline_keyboard) {
    if (!Array.isArray(row)) {
      throw bad(`Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays`);
    }
    const parsedRow: ParsedButton[] = [];
    for (const button of row) {
      try {
        if (typeof button !== "object" || button === null || Array.isArray(button)) {
          throw new FieldError("InlineKeyboardButton must be an Object");
        }
        const b = tdParse(inlineButtonSchema, button);
        const raw = button as Record<string, unknown>;
        if (b.url) parsedRow.push({ text: b.text, kind: "url", url: b.url });
        else if (b.callback_data)
          parsedRow.push({ text: b.text, kind: "callback", data: b.callback_data });
        else if ("callback_game" in raw || "pay" in raw)
          parsedRow.push({ text: b.text, kind: "unsupported", error: "BUTTON_TYPE_INVALID" });
        else if (b.switch_inline_query !== undefined)
          parsedRow.push({
            text: b.text,
            kind: "switch",
            query: b.switch_inline_query,
            current: false,
          });
        else if (b.switch_inline_query_chosen_chat !== undefined)
          parsedRow.push({
            text: b.text,
            kind: "switch",
            query: b.switch_inline_query_chosen_chat.query ?? "",
            current: false,
          });
        else if (b.switch_inline_query_current_chat !== undefined)
          parsedRow.push({
            text: b.text,
            kind: "switch",
            query: b.switch_inline_query_current_chat,
            current: true,
          });
        else if (b.login_url !== undefined)
          parsedRow.push({ text: b.text, kind: "unsupported", error: "BOT_DOMAIN_INVALID" });
        else if (b.web_app !== undefined)
          parsedRow.push({ text: b.text, kind: "web_app", url: b.web_app.url });
        else if (b.copy_text !== undefined)
          parsedRow.push({ text: b.text, kind: "copy_text", copy: b.copy_text.text });
        else throw new FieldError("Text buttons are unallowed in the inline keyboard");
      } catch (e) {
        if (e instanceof FieldError) throw bad(`Can't parse inline keyboard button: ${e.message}`);
        throw e;
      }
    }
    if (parsedRow.length > 0) rows.push(parsedRow);
  }
  return rows.length > 0 ? { inline: rows } : {};
}

/** The checks tdlib and the server make once the chat is known; the stored keyboard. */
function validateInline(rows: ParsedButton[][]): InlineKeyboardMarkup {
  const out: InlineKeyboardButton[][] = [];
  for (const row of rows) {
    const outRow: InlineKeyboardButton[] = [];
    for (const b of row) {
      if (b.text.trim() === "") throw bad("BUTTON_TEXT_INVALID");
      switch (b.kind) {
        case "url": {
          const checked = checkLink(b.url);
          if ("error" in checked) {
            throw bad(`Inline keyboard button URL '${b.url}' is invalid: ${checked.error}`);
          }
          outRow.push({ text: b.text, url: checked.url });
          break;
        }
        case "callback":
          if (byteLength(b.data) > MAX_CALLBACK_DATA) throw bad("BUTTON_DATA_INVALID");
          outRow.push({ text: b.text, callback_data: b.data });
          break;
        case "web_app": {
          const checked = checkLink(b.url, { httpsOnly: true });
          if ("error" in checked) {
            throw bad(`Inline keyboard button Web App URL '${b.url}' is invalid: ${checked.error}`);
          }
          outRow.push({ text: b.text, web_app: { url: checked.url } });
          break;
        }
        case "copy_text":
          if (b.copy === "" || [...b.copy].length > 256) throw bad("BUTTON_COPY_TEXT_INVALID");
          outRow.push({ text: b.text, copy_text: { text: b.copy } });
          break;
        case "switch":
          outRow.push(
            b.current
              ? { text: b.text, switch_inline_query_current_chat: b.query }
              : { text: b.text, switch_inline_query: b.query },
          );
          break;
        case "unsupported":
          throw bad(b.error);
      }
    }
    out.push(outRow);
  }
  return { inline_keyboard: out };
}

// ---- formatted text ----

const INPUT_ENTITY_TYPES = new Set([
  "bold",
  "italic",
  "underline",
  "strikethrough",
  "spoiler",
  "code",
  "pre",
  "text_link",
  "text_mention",
  "custom_emoji",
  "blockquote",
  "expandable_blockquote",
]);
// Auto-detected types: the Bot API drops them from input.
const DETECTED_ENTITY_TYPES = new Set([
  "mention",
  "hashtag",
  "cashtag",
  "bot_command",
  "url",
  "email",
  "phone_number",
  "bank_card_number",
]);

const entitySchema = z.object({
  type: tdString,
  offset: tdInt,
  length: tdInt,
  url: tdString.optional(),
  language: tdString.optional(),
  custom_emoji_id: tdString.optional(),
  user: z.object({ id: tdInt }).loose().optional(),
});

function inputEntities(raw: string | undefined, text: string): MessageEntity[] {
  if (raw === undefined || raw === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return []; // the Bot API ignores an unparsable entities field
  }
  if (!Array.isArray(value)) return [];
  const out: MessageEntity[] = [];
  for (const item of value) {
    let e: z.infer<typeof entitySchema>;
    try {
      if (typeof item !== "object" || item === null) throw new FieldError("expected an Object");
      e = tdParse(entitySchema, item);
      if (e.type === "") throw new FieldError("Type is not specified");
      if (DETECTED_ENTITY_TYPES.has(e.type)) continue;
      if (!INPUT_ENTITY_TYPES.has(e.type)) throw new FieldError("Unsupported type specified");
      if (e.type === "text_link" && e.url === undefined)
        throw new FieldError(`Can't find field "url"`);
      if (e.type === "text_mention" && e.user === undefined)
        throw new FieldError(`Can't find field "user"`);
      if (e.type === "custom_emoji") {
        if (e.custom_emoji_id === undefined)
          throw new FieldError(`Can't find field "custom_emoji_id"`);
        if (!/^\d+$/.test(e.custom_emoji_id) || BigInt(e.custom_emoji_id) > 9223372036854775807n)
          throw new FieldError(`Field "custom_emoji_id" must be a valid Number`);
      }
    } catch (err) {
      if (err instanceof FieldError) throw bad(`Can't parse MessageEntity: ${err.message}`);
      throw err;
    }
    if (e.offset < 0) throw bad(`Receive an entity with incorrect offset ${e.offset}`);
    if (e.length <= 0) throw bad(`Receive an entity with incorrect length ${e.length}`);
    if (e.offset > text.length) {
      throw bad(`Entity begins after the end of the text at UTF-16 offset ${e.offset}`);
    }
    if (e.offset + e.length > text.length) {
      throw bad(
        `Entity beginning at UTF-16 offset ${e.offset} ends after the end of the text at UTF-16 offset ${e.offset + e.length}`,
      );
    }
    const entity: MessageEntity = { type: e.type, offset: e.offset, length: e.length };
    if (e.type === "text_link") {
      const checked = checkLink(e.url ?? "");
      if ("error" in checked) throw bad(`Entity URL '${e.url}' is invalid: ${checked.error}`);
      entity.url = checked.url;
    }
    if (e.type === "pre" && e.language) entity.language = e.language;
    if (e.type === "custom_emoji") entity.custom_emoji_id = e.custom_emoji_id;
    if (e.type === "text_mention")
      entity.user = { id: e.user?.id ?? 0, is_bot: false, first_name: "" };
    out.push(entity);
  }
  return out;
}

interface Formatted {
  text: string;
  entities: MessageEntity[];
  source: string;
  parseMode?: string;
}

/** get_formatted_text + fix_formatted_text of the Bot API server and tdlib. */
function formatText(
  source: string,
  parseModeRaw: string | undefined,
  entitiesRaw: string | undefined,
  allowEmpty: boolean,
): Formatted {
  if (byteLength(source) > 1 << 15) throw bad("Text is too long");
  const parseMode = (parseModeRaw ?? "").toLowerCase();
  let text = source;
  let entities: MessageEntity[] = [];
  if (source !== "" && parseMode !== "" && parseMode !== "none") {
    if (parseMode === "html") {
      try {
        ({ text, entities } = parseHtml(source));
      } catch (e) {
        if (e instanceof TextError) throw bad(`Can't parse entities: ${e.message}`);
        throw e;
      }
    } else if (parseMode === "markdown" || parseMode === "markdownv2") {
      throw new ApiError(
        501,
        `Not Implemented: the Telegram sandbox does not parse ${parseModeRaw}; use HTML`,
      );
    } else {
      throw bad("Unsupported parse_mode");
    }
  } else {
    entities = inputEntities(entitiesRaw, source);
  }
  try {
    const fixed = fixFormattedText(text, entities, allowEmpty);
    return {
      text: fixed.text,
      entities: fixed.entities,
      source,
      ...(parseModeRaw && parseMode !== "none" ? { parseMode: parseModeRaw } : {}),
    };
  } catch (e) {
    if (e instanceof TextError) throw bad(e.message);
    throw e;
  }
}

const linkPreviewSchema = z.object({
  is_disabled: z.boolean().optional(),
  url: tdString.optional(),
  prefer_small_media: z.boolean().optional(),
  prefer_large_media: z.boolean().optional(),
  show_above_text: z.boolean().optional(),
});

function parseLinkPreview(args: Record<string, string>): Record<string, unknown> | undefined {
  const raw = args.link_preview_options;
  if (raw === undefined || raw === "") {
    return toBool(args.disable_web_page_preview) ? { is_disabled: true } : undefined;
  }
  const value = parseJsonArg(raw, "Can't parse link preview options JSON object");
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("Object expected as link preview options");
  }
  try {
    const opts = tdParse(linkPreviewSchema, value);
    if (opts.url !== undefined && opts.url !== "" && "error" in checkLink(opts.url)) {
      throw bad("WEBPAGE_URL_INVALID");
    }
    return Object.keys(opts).length > 0 ? opts : undefined;
  } catch (e) {
    if (e instanceof FieldError) throw bad(e.message);
    throw e;
  }
}

const commandScopeSchema = z.object({
  type: tdString,
  chat_id: tdString.optional(),
  user_id: tdInt.optional(),
});

// ---- the sandbox ----

class Sandbox implements TelegramSandbox {
  url = "";
  readonly token: string;
  readonly botId: number;
  private readonly server: Server;
  private readonly botName: string;
  private readonly botUsername: string;
  private readonly callbackTtlMs: number;
  private readonly events = new EventEmitter();
  private readonly users = new Map<number, UserRec>();
  private readonly chats = new Map<number, ChatRec>();
  private readonly files = new Map<string, FileRec>();
  private readonly filesByPath = new Map<string, FileRec>();
  private readonly callbacks = new Map<string, CallbackRec>();
  private readonly commandSets = new Map<string, BotCommand[]>();
  /** Faults by lower-cased method name (the Bot API matches names case-insensitively). */
  private readonly faults = new FaultQueue<{ method: string; fault: FaultSpec }>();
  private readonly callLog: CallRecord[] = [];
  private updates: Record<string, unknown>[] = [];
  private nextUpdateId = 100_000_000 + randomInt(0, 800_000_000);
  private allowedUpdates = new Set(DEFAULT_UPDATES);
  private poller?: Poller;
  private latencyMs = 0;
  private fileCounter = 0;
  private closed = false;
  private readonly closers = new Set<() => void>();
  private readonly methods: Record<string, [string, Handler]>;

  constructor(opts: TelegramSandboxOptions) {
    this.token = opts.token ?? "123456:AAHsandboxTokenForTests0123456789ab";
    const id = /^(\d+):/.exec(this.token)?.[1];
    if (!id) throw new Error(`not a bot token: ${this.token}`);
    this.botId = Number(id);
    this.botName = opts.botName ?? "Sandbox Bot";
    this.botUsername = opts.botUsername ?? "sandbox_bot";
    this.callbackTtlMs = opts.callbackQueryTtlMs ?? 15_000;
    this.events.setMaxListeners(0);
    const table: Record<string, Handler> = {
      getMe: () => this.getMe(),
      getUpdates: (c) => this.getUpdates(c),
      deleteWebhook: (c) => this.deleteWebhook(c),
      getWebhookInfo: () => ({
        url: "",
        has_custom_certificate: false,
        pending_update_count: this.updates.length,
      }),
      sendMessage: (c) => this.sendMessage(c),
      editMessageText: (c) => this.editMessageText(c),
      editMessageReplyMarkup: (c) => this.editMessageReplyMarkup(c),
      sendDocument: (c) => this.sendDocumentApi(c),
      getFile: (c) => this.getFile(c),
      deleteMessage: (c) => this.deleteMessage(c),
      answerCallbackQuery: (c) => this.answerCallbackQuery(c),
      setMyCommands: (c) => this.setMyCommands(c),
      getMyCommands: (c) => this.getMyCommands(c),
      deleteMyCommands: (c) => this.deleteMyCommands(c),
      sendChatAction: (c) => this.sendChatAction(c),
    };
    // The Bot API matches method names case-insensitively.
    this.methods = Object.fromEntries(
      Object.entries(table).map(([name, h]) => [name.toLowerCase(), [name, h]]),
    );
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err) => {
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
    const poller = this.poller;
    this.poller = undefined;
    if (poller) {
      clearTimeout(poller.timer);
      poller.resolve([]);
    }
    for (const close of [...this.closers]) close();
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

  // ---- HTTP ----

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    if (path.startsWith("/control/")) return this.control(req, res, url);
    if (path.startsWith("/file/bot")) return this.download(req, res, path);

    let body: Buffer;
    try {
      body = await readBody(req, MAX_UPLOAD + 1024 * 1024);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        return sendJson(res, 413, {
          ok: false,
          error_code: 413,
          description: "Request Entity Too Large",
        });
      }
      throw e;
    }
    const m = /^\/bot([^/]*)\/(?:test\/)?([^/]*)$/.exec(path);
    if (!m) return this.fail(res, new ApiError(404, "Not Found"));
    const token = m[1] as string;
    if (!/^\d+:[A-Za-z0-9_-]+$/.test(token)) return this.fail(res, new ApiError(404, "Not Found"));
    if (token.startsWith("0")) {
      return this.fail(res, new ApiError(401, "Unauthorized: invalid token specified"));
    }
    if (token !== this.token) return this.fail(res, new ApiError(401, "Unauthorized"));
    const entry = this.methods[(m[2] as string).toLowerCase()];
    if (!entry) return this.fail(res, new ApiError(404, "Not Found"));
    const [method, handler] = entry;

    let decoded: DecodedRequest;
    try {
      decoded = decodeRequest(req, url, body);
    } catch (e) {
      if (e instanceof BadBody) return this.fail(res, new ApiError(400, e.message));
      throw e;
    }
    const record: CallRecord = {
      method,
      args: decoded.args,
      files: Object.fromEntries(Object.entries(decoded.files).map(([k, f]) => [k, f.filename])),
      status: 0,
      ok: false,
      at: Date.now(),
    };
    this.callLog.push(record);

    if (this.latencyMs > 0) await sleep(this.latencyMs);

    const fault = this.faults.take((f) => f.method === method.toLowerCase())?.fault;
    if (fault) {
      record.status = fault.status;
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.rawBody !== undefined) {
        res.writeHead(fault.status, { "content-type": "text/html" });
        res.end(fault.rawBody);
        return;
      }
      const err = faultError(fault);
      record.description = err.description;
      return this.fail(res, err);
    }

    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const result = await handler({ ...decoded, signal: abort.signal });
      record.status = 200;
      record.ok = true;
      const payload: Record<string, unknown> = { ok: true, result };
      if (method === "deleteWebhook") payload.description = "Webhook is already deleted";
      if (!res.destroyed) sendJson(res, 200, payload);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      record.status = e.code;
      record.description = e.description;
      if (!res.destroyed) this.fail(res, e);
    }
  }

  private fail(res: ServerResponse, e: ApiError): void {
    sendJson(res, e.code, {
      ok: false,
      error_code: e.code,
      description: e.description,
      ...(e.retryAfter !== undefined ? { parameters: { retry_after: e.retryAfter } } : {}),
    });
  }

  private async download(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    for await (const _ of req) {
      // drain
    }
    const m = /^\/file\/bot([^/]+)\/(.+)$/.exec(path);
    const file =
      m && m[1] === this.token
        ? this.filesByPath.get(decodeURIComponent(m[2] as string))
        : undefined;
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (!file || req.method !== "GET") return this.fail(res, new ApiError(404, "Not Found"));
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": file.bytes.length,
    });
    res.end(file.bytes);
  }

  // ---- Bot API methods ----

  private botUser() {
    return { id: this.botId, is_bot: true, first_name: this.botName, username: this.botUsername };
  }

  private getMe() {
    return {
      ...this.botUser(),
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    };
  }

  private getUpdates({ args, signal }: Ctx): unknown {
    const offset = toInt(args.offset);
    const limit = Math.min(100, Math.max(1, toInt(args.limit, 100)));
    const timeout = Math.min(MAX_LONG_POLL, Math.max(0, toInt(args.timeout)));
    if (args.allowed_updates !== undefined) {
      try {
        const list = JSON.parse(args.allowed_updates);
        if (Array.isArray(list)) {
          const names = list.filter((x): x is string => typeof x === "string");
          this.allowedUpdates = new Set(names.length > 0 ? names : DEFAULT_UPDATES);
        }
      } catch {
        // ignored, like the Bot API does
      }
    }
    if (offset > 0) {
      this.updates = this.updates.filter((u) => (u.update_id as number) >= offset);
    } else if (offset < 0) {
      this.updates = this.updates.slice(offset);
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
    if (this.updates.length > 0 || timeout === 0 || this.closed) {
      return this.updates.slice(0, limit);
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

  private deleteWebhook({ args }: Ctx) {
    if (toBool(args.drop_pending_updates)) this.updates = [];
    return true;
  }

  private enqueue(kind: string, payload: Record<string, unknown>): void {
    if (!this.allowedUpdates.has(kind)) return;
    this.updates.push({ update_id: this.nextUpdateId++, [kind]: payload });
    const poller = this.poller;
    if (poller) {
      this.poller = undefined;
      clearTimeout(poller.timer);
      poller.resolve(this.updates.slice(0, poller.limit));
    }
  }

  /** check_chat: the private chat behind chat_id, as this bot knows it. */
  private resolveChat(chatIdRaw: string | undefined): ChatRec {
    if (chatIdRaw === undefined || chatIdRaw === "") throw bad("chat_id is empty");
    if (chatIdRaw.startsWith("@")) {
      const name = chatIdRaw.slice(1).toLowerCase();
      for (const chat of this.chats.values()) {
        if (chat.user.username?.toLowerCase() === name) return chat;
      }
      throw bad("chat not found");
    }
    const chat = this.chats.get(toInt(chatIdRaw));
    if (!chat) throw bad("chat not found");
    return chat;
  }

  private sendMessage({ args }: Ctx) {
    const source = args.text ?? "";
    if (source === "") throw bad("Message text is empty");
    const text = formatText(source, args.parse_mode, args.entities, false);
    const linkPreview = parseLinkPreview(args);
    const markup = parseReplyMarkup(args.reply_markup);
    const chat = this.resolveChat(args.chat_id);
    const keyboard = markup?.inline ? validateInline(markup.inline) : undefined;
    if (text.text.length > MAX_TEXT) throw bad("message is too long");
    const replyTo = this.replyTarget(chat, args);
    if (chat.user.blocked) throw blocked();
    const msg = this.store(chat, "bot", "text", { ...versionOf(text), replyMarkup: keyboard });
    if (linkPreview) msg.linkPreview = linkPreview;
    if (replyTo) msg.replyTo = replyTo;
    this.changed(chat);
    return this.toApi(msg);
  }

  private replyTarget(chat: ChatRec, args: Record<string, string>): StoredMessage | undefined {
    let id = 0;
    let allowMissing = toBool(args.allow_sending_without_reply);
    if (args.reply_parameters) {
      const value = parseJsonArg(args.reply_parameters, "Can't parse reply parameters JSON object");
      try {
        const p = tdParse(
          z.object({
            message_id: tdInt,
            chat_id: tdString.optional(),
            allow_sending_without_reply: z.boolean().optional(),
          }),
          value,
        );
        id = p.message_id;
        allowMissing = p.allow_sending_without_reply ?? false;
      } catch (e) {
        if (e instanceof FieldError) throw bad(e.message);
        throw e;
      }
    } else if (args.reply_to_message_id) {
      id = toInt(args.reply_to_message_id);
    }
    if (id <= 0) return undefined;
    const target = chat.messages.get(id);
    if (target && !target.deleted) return target;
    if (allowMissing) return undefined;
    throw bad("message to be replied not found");
  }

  private sendDocumentApi({ args, files }: Ctx) {
    const input = this.inputFile(args.document, files, "document");
    if (!input) throw bad("there is no document in the request");
    const caption = formatText(args.caption ?? "", args.parse_mode, args.caption_entities, true);
    const markup = parseReplyMarkup(args.reply_markup);
    const chat = this.resolveChat(args.chat_id);
    const keyboard = markup?.inline ? validateInline(markup.inline) : undefined;
    if (caption.text.length > MAX_CAPTION) throw bad("message caption is too long");
    const replyTo = this.replyTarget(chat, args);
    let existing: FileRec | undefined;
    if ("upload" in input) {
      if (input.upload.bytes.length === 0) throw bad("file must be non-empty");
    } else {
      existing = this.files.get(input.fileId);
      if (!existing) {
        if (/^https?:\/\//i.test(input.fileId)) throw bad("failed to get HTTP URL content");
        throw bad("wrong file identifier/HTTP URL specified");
      }
      if (existing.kind !== "document") throw bad("type of file mismatch");
    }
    if (chat.user.blocked) throw blocked();
    const file =
      existing ??
      ("upload" in input
        ? this.storeFile("document", input.upload.bytes, {
            name: input.upload.filename,
            mimeType: mimeFor(input.upload.filename) ?? "application/octet-stream",
          })
        : undefined);
    if (!file) throw bad("there is no document in the request");
    const msg = this.store(chat, "bot", "document", {
      ...versionOf(caption),
      replyMarkup: keyboard,
    });
    msg.document = file;
    if (replyTo) msg.replyTo = replyTo;
    this.changed(chat);
    return this.toApi(msg);
  }

  /** get_input_file: an attach:// part, a part named like the field, or a file_id/URL. */
  private inputFile(
    value: string | undefined,
    files: Record<string, UploadedFile>,
    field: string,
  ): { upload: UploadedFile } | { fileId: string } | undefined {
    let name = field;
    if (value) {
      if (!value.startsWith("attach://")) return { fileId: value };
      name = value.slice("attach://".length);
    }
    const upload = files[name];
    return upload ? { upload } : undefined;
  }

  private getFile({ args }: Ctx) {
    const fileId = args.file_id ?? "";
    if (fileId === "") throw bad("file_id not specified");
    const file = this.files.get(fileId);
    if (!file) throw bad("invalid file_id");
    if (file.size > MAX_DOWNLOAD) throw bad("file is too big");
    if (!file.path) {
      const ext = file.name
        ? /\.([A-Za-z0-9]+)$/.exec(file.name)?.[1]
        : file.kind === "photo"
          ? "jpg"
          : undefined;
      file.path = `${file.kind === "photo" ? "photos" : "documents"}/file_${this.fileCounter++}${ext ? `.${ext}` : ""}`;
      this.filesByPath.set(file.path, file);
    }
    return {
      file_id: file.fileId,
      file_unique_id: file.fileUniqueId,
      file_size: file.size,
      file_path: file.path,
    };
  }

  /** check_message: a message of that chat that still exists. */
  private findMessage(args: Record<string, string>, what: string): StoredMessage {
    const chat = this.resolveChat(args.chat_id);
    const id = toInt(args.message_id);
    const msg = id > 0 ? chat.messages.get(id) : undefined;
    if (!msg || msg.deleted) throw bad(`${what} not found`);
    return msg;
  }

  private editMessageText({ args }: Ctx) {
    const source = args.text ?? "";
    if (source === "") throw bad("Message text is empty");
    const text = formatText(source, args.parse_mode, args.entities, false);
    const markup = parseReplyMarkup(args.reply_markup);
    const msg = this.editTarget(args);
    if (msg.from !== "bot") throw bad("message can't be edited");
    if (msg.kind !== "text") throw bad("there is no text in the message to edit");
    const keyboard = markup?.inline ? validateInline(markup.inline) : undefined;
    if (text.text.length > MAX_TEXT) throw bad("message is too long");
    const next: Omit<MessageVersion, "at"> = { ...versionOf(text), replyMarkup: keyboard };
    if (
      msg.current.text === next.text &&
      same(msg.current.entities ?? [], next.entities ?? []) &&
      same(msg.current.replyMarkup, next.replyMarkup)
    ) {
      throw notModified();
    }
    return this.applyEdit(msg, next);
  }

  private editMessageReplyMarkup({ args }: Ctx) {
    const markup = parseReplyMarkup(args.reply_markup);
    const msg = this.editTarget(args);
    if (msg.from !== "bot") throw bad("message can't be edited");
    const keyboard = markup?.inline ? validateInline(markup.inline) : undefined;
    if (same(msg.current.replyMarkup, keyboard)) throw notModified();
    return this.applyEdit(msg, { ...msg.current, replyMarkup: keyboard });
  }

  private editTarget(args: Record<string, string>): StoredMessage {
    if ((args.chat_id ?? "") === "" && toInt(args.message_id) === 0) {
      if ((args.inline_message_id ?? "") === "") throw bad("Message identifier is not specified");
      throw bad("MESSAGE_ID_INVALID");
    }
    return this.findMessage(args, "message to edit");
  }

  private applyEdit(msg: StoredMessage, next: Omit<MessageVersion, "at">) {
    const version = { ...next, at: Date.now() };
    msg.current = version;
    msg.versions.push(version);
    msg.editDate = now();
    this.changed(this.chats.get(msg.chatId) as ChatRec);
    return this.toApi(msg);
  }

  private deleteMessage({ args }: Ctx) {
    if ((args.chat_id ?? "") === "") throw bad("Chat identifier is not specified");
    if (toInt(args.message_id) <= 0) throw bad("Message identifier is not specified");
    const msg = this.findMessage(args, "message to delete");
    msg.deleted = true;
    this.changed(this.chats.get(msg.chatId) as ChatRec);
    return true;
  }

  private answerCallbackQuery({ args }: Ctx) {
    const query = this.callbacks.get(args.callback_query_id ?? "");
    if (!query || query.answer || Date.now() - query.createdAt > this.callbackTtlMs) {
      throw new ApiError(
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
      );
    }
    query.answer = {
      ...(args.text ? { text: args.text } : {}),
      showAlert: toBool(args.show_alert),
      ...(args.url ? { url: args.url } : {}),
      ...(args.cache_time ? { cacheTime: toInt(args.cache_time) } : {}),
    };
    return true;
  }

  private scopeKey(args: Record<string, string>): string {
    let scope: z.infer<typeof commandScopeSchema> = { type: "default" };
    if (args.scope) {
      const value = parseJsonArg(args.scope, "Can't parse BotCommandScope JSON object");
      try {
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          throw new FieldError("BotCommandScope must be an Object");
        }
        scope = tdParse(commandScopeSchema, value);
        const simple = [
          "default",
          "all_private_chats",
          "all_group_chats",
          "all_chat_administrators",
        ];
        if (!simple.includes(scope.type)) {
          if (!["chat", "chat_administrators", "chat_member"].includes(scope.type)) {
            throw new FieldError("Unsupported type specified");
          }
          if (scope.chat_id === undefined) throw new FieldError(`Can't find field "chat_id"`);
          if (scope.chat_id === "") throw new FieldError("Empty chat_id specified");
          if (scope.type === "chat_member") {
            if (scope.user_id === undefined) throw new FieldError(`Can't find field "user_id"`);
            if (scope.user_id <= 0) throw new FieldError("Invalid user_id specified");
          }
        }
      } catch (e) {
        if (e instanceof FieldError) throw bad(`Can't parse BotCommandScope: ${e.message}`);
        throw e;
      }
      if (scope.chat_id !== undefined) this.resolveChat(scope.chat_id);
      if (scope.type === "chat_administrators" || scope.type === "chat_member") {
        throw bad("can't use specified scope in private chats");
      }
    }
    const lang = args.language_code ?? "";
    if (lang !== "" && !/^[a-z]{2}$/.test(lang)) throw bad("Invalid language code specified");
    const chat = scope.chat_id !== undefined ? this.resolveChat(scope.chat_id).user.id : "";
    return `${scope.type}|${chat}|${scope.user_id ?? ""}|${lang}`;
  }

  private setMyCommands({ args }: Ctx) {
    let list: unknown[] = [];
    if (args.commands) {
      const value = parseJsonArg(args.commands, "Can't parse commands JSON object");
      if (!Array.isArray(value)) throw bad("Expected an Array of BotCommand");
      list = value;
    }
    const parsed: BotCommand[] = [];
    for (const item of list) {
      try {
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
          throw new FieldError("expected an Object");
        }
        parsed.push(tdParse(z.object({ command: tdString, description: tdString }), item));
      } catch (e) {
        if (e instanceof FieldError) throw bad(`Can't parse BotCommand: ${e.message}`);
        throw e;
      }
    }
    const key = this.scopeKey(args);
    const commands: BotCommand[] = [];
    for (const c of parsed) {
      let command = c.command.trim();
      if (command.startsWith("/")) command = command.slice(1);
      if (command === "") throw bad("Command must be non-empty");
      if ([...command].length > 32) throw bad("Command length must not exceed 32");
      const description = c.description.trim();
      if (description === "") throw bad("Command description must be non-empty");
      if ([...description].length > 256) {
        throw bad("Command description length must not exceed 256");
      }
      commands.push({ command, description });
    }
    if (commands.length > 100) throw bad("BOT_COMMANDS_TOO_MUCH");
    if (commands.some((c) => !/^[a-z0-9_]+$/.test(c.command))) throw bad("BOT_COMMAND_INVALID");
    this.commandSets.set(key, commands);
    return true;
  }

  private getMyCommands({ args }: Ctx) {
    return this.commandSets.get(this.scopeKey(args)) ?? [];
  }

  private deleteMyCommands({ args }: Ctx) {
    this.commandSets.delete(this.scopeKey(args));
    return true;
  }

  private sendChatAction({ args }: Ctx) {
    const chat = this.resolveChat(args.chat_id);
    const action = args.action ?? "";
    if (!CHAT_ACTIONS.has(action)) throw bad("wrong parameter action in request");
    if (chat.user.blocked) throw blocked();
    chat.actions.push(action);
    return true;
  }

  // ---- storage ----

  private user(userId: number): UserRec {
    if (!Number.isSafeInteger(userId) || userId <= 0) throw new Error(`bad user id ${userId}`);
    let user = this.users.get(userId);
    if (!user) {
      user = { id: userId, firstName: `User ${userId}`, languageCode: "en", blocked: false };
      this.users.set(userId, user);
    }
    return user;
  }

  private chatOf(userId: number): ChatRec {
    let chat = this.chats.get(userId);
    if (!chat) {
      chat = {
        user: this.user(userId),
        messages: new Map(),
        order: [],
        nextMessageId: 1,
        chatInstance: `-${numericId()}`,
        actions: [],
      };
      this.chats.set(userId, chat);
    }
    return chat;
  }

  private store(
    chat: ChatRec,
    from: "bot" | "user",
    kind: StoredMessage["kind"],
    version: Omit<MessageVersion, "at">,
  ): StoredMessage {
    const current: MessageVersion = { ...version, at: Date.now() };
    const msg: StoredMessage = {
      chatId: chat.user.id,
      messageId: chat.nextMessageId++,
      from,
      date: now(),
      kind,
      current,
      versions: [current],
      deleted: false,
    };
    chat.messages.set(msg.messageId, msg);
    chat.order.push(msg);
    return msg;
  }

  private storeFile(
    kind: FileRec["kind"],
    bytes: Uint8Array,
    extra: { name?: string; mimeType?: string; width?: number; height?: number; size?: number },
  ): FileRec {
    const prefix = kind === "photo" ? "AgACAgIAAxkBAAI" : "BQACAgIAAxkBAAI";
    const file: FileRec = {
      fileId: `${prefix}${b64url(48)}`,
      fileUniqueId: `AgAD${b64url(9)}`,
      kind,
      bytes: Buffer.from(bytes),
      size: extra.size ?? bytes.length,
      ...(extra.name !== undefined ? { name: extra.name } : {}),
      ...(extra.mimeType !== undefined ? { mimeType: extra.mimeType } : {}),
      ...(extra.width !== undefined ? { width: extra.width, height: extra.height } : {}),
    };
    this.files.set(file.fileId, file);
    return file;
  }

  private changed(chat: ChatRec): void {
    this.events.emit("change", chat.user.id);
  }

  // ---- Bot API objects ----

  private apiUser(u: UserRec) {
    return {
      id: u.id,
      is_bot: false,
      first_name: u.firstName,
      ...(u.lastName ? { last_name: u.lastName } : {}),
      ...(u.username ? { username: u.username } : {}),
      language_code: u.languageCode,
    };
  }

  private apiChat(u: UserRec) {
    return {
      id: u.id,
      first_name: u.firstName,
      ...(u.lastName ? { last_name: u.lastName } : {}),
      ...(u.username ? { username: u.username } : {}),
      type: "private",
    };
  }

  private apiFile(f: FileRec) {
    return {
      ...(f.name !== undefined ? { file_name: f.name } : {}),
      ...(f.mimeType !== undefined ? { mime_type: f.mimeType } : {}),
      file_id: f.fileId,
      file_unique_id: f.fileUniqueId,
      file_size: f.size,
    };
  }

  private toApi(msg: StoredMessage, withReply = true): Record<string, unknown> {
    const chat = this.chats.get(msg.chatId) as ChatRec;
    const out: Record<string, unknown> = {
      message_id: msg.messageId,
      from: msg.from === "bot" ? this.botUser() : this.apiUser(chat.user),
      chat: this.apiChat(chat.user),
      date: msg.date,
    };
    if (msg.editDate !== undefined) out.edit_date = msg.editDate;
    if (withReply && msg.replyTo) out.reply_to_message = this.toApi(msg.replyTo, false);
    const v = msg.current;
    const entities = v.entities && v.entities.length > 0 ? v.entities : undefined;
    if (msg.kind === "text") {
      out.text = v.text;
      if (entities) out.entities = entities;
      if (msg.linkPreview) out.link_preview_options = msg.linkPreview;
    } else {
      if (msg.kind === "document" && msg.document) out.document = this.apiFile(msg.document);
      if (msg.kind === "photo" && msg.photo) {
        out.photo = msg.photo.map((p) => ({
          ...this.apiFile(p),
          width: p.width,
          height: p.height,
        }));
      }
      if (v.text) out.caption = v.text;
      if (entities) out.caption_entities = entities;
    }
    if (v.replyMarkup) out.reply_markup = v.replyMarkup;
    return out;
  }

  private view(msg: StoredMessage): MessageView {
    const fileView = (f: FileRec): DocumentView => ({
      fileId: f.fileId,
      fileUniqueId: f.fileUniqueId,
      ...(f.name !== undefined ? { name: f.name } : {}),
      ...(f.mimeType !== undefined ? { mimeType: f.mimeType } : {}),
      size: f.size,
      bytes: Buffer.from(f.bytes),
    });
    const versions = msg.versions.map((v) => structuredClone(v));
    return {
      ...structuredClone(msg.current),
      messageId: msg.messageId,
      from: msg.from,
      date: msg.date,
      kind: msg.kind,
      ...(msg.document ? { document: fileView(msg.document) } : {}),
      ...(msg.photo ? { photo: msg.photo.map(fileView) } : {}),
      versions,
      edits: versions.slice(1),
      deleted: msg.deleted,
      ...(msg.replyTo ? { replyToMessageId: msg.replyTo.messageId } : {}),
      raw: this.toApi(msg),
    };
  }

  // ---- driving it as a user ----

  private userMessage(
    userId: number,
    kind: StoredMessage["kind"],
    version: Omit<MessageVersion, "at">,
    attach?: (msg: StoredMessage) => void,
  ): Record<string, unknown> {
    const chat = this.chatOf(userId);
    const msg = this.store(chat, "user", kind, version);
    attach?.(msg);
    const api = this.toApi(msg);
    this.enqueue("message", api);
    this.changed(chat);
    return api;
  }

  sendText(userId: number, text: string): Record<string, unknown> {
    if (text.trim() === "") throw new Error("sendText: Telegram clients don't send empty messages");
    if (text.length > MAX_TEXT) throw new Error("sendText: longer than Telegram allows (4096)");
    const entities: MessageEntity[] = [];
    // tdlib's bot command matcher, as clients apply it to what users type.
    const re =
      /(?<![\p{L}\p{N}_/<>])\/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{3,32})?(?![\p{L}\p{N}_/<>])/gu;
    for (const m of text.matchAll(re)) {
      entities.push({ type: "bot_command", offset: m.index, length: m[0].length });
    }
    return this.userMessage(userId, "text", {
      text,
      source: text,
      ...(entities.length > 0 ? { entities } : {}),
    });
  }

  sendDocument(
    userId: number,
    doc: { name: string; bytes: Uint8Array; mimeType?: string; caption?: string; size?: number },
  ): Record<string, unknown> {
    if (doc.bytes.length === 0 && !doc.size) throw new Error("sendDocument: empty file");
    const file = this.storeFile("document", doc.bytes, {
      name: doc.name,
      mimeType: doc.mimeType ?? mimeFor(doc.name) ?? "application/octet-stream",
      ...(doc.size !== undefined ? { size: doc.size } : {}),
    });
    return this.userMessage(
      userId,
      "document",
      doc.caption ? { text: doc.caption, source: doc.caption } : {},
      (msg) => {
        msg.document = file;
      },
    );
  }

  sendPhoto(userId: number, opts: { bytes?: Uint8Array; caption?: string } = {}) {
    const base = opts.bytes ?? Buffer.from("ffd8ffe000104a46494600010100000100010000ffd9", "hex");
    const sizes = [
      [90, 68],
      [320, 240],
      [800, 600],
    ] as const;
    const photo = sizes.map(([width, height]) => this.storeFile("photo", base, { width, height }));
    return this.userMessage(
      userId,
      "photo",
      opts.caption ? { text: opts.caption, source: opts.caption } : {},
      (msg) => {
        msg.photo = photo;
      },
    );
  }

  pressButton(userId: number, messageId: number, data: string): string {
    const chat = this.chats.get(userId);
    const msg = chat?.messages.get(messageId);
    if (!chat || !msg) throw new Error(`pressButton: no message ${messageId} in chat ${userId}`);
    if (msg.deleted) throw new Error(`pressButton: message ${messageId} was deleted`);
    if (msg.from !== "bot") throw new Error(`pressButton: message ${messageId} is the user's`);
    const buttons = msg.current.replyMarkup?.inline_keyboard.flat() ?? [];
    if (!buttons.some((b) => b.callback_data === data)) {
      const have = buttons.map((b) => b.callback_data).filter((d) => d !== undefined);
      throw new Error(
        `pressButton: message ${messageId} has no button with data ${JSON.stringify(data)} (has ${JSON.stringify(have)})`,
      );
    }
    const id = numericId();
    this.callbacks.set(id, { id, userId, messageId, data, createdAt: Date.now() });
    this.enqueue("callback_query", {
      id,
      from: this.apiUser(chat.user),
      message: this.toApi(msg),
      chat_instance: chat.chatInstance,
      data,
    });
    return id;
  }

  setUser(userId: number, profile: UserProfile): void {
    const user = this.user(userId);
    if (profile.firstName !== undefined) user.firstName = profile.firstName;
    if (profile.lastName !== undefined) user.lastName = profile.lastName;
    if (profile.username !== undefined) user.username = profile.username;
    if (profile.languageCode !== undefined) user.languageCode = profile.languageCode;
  }

  block(userId: number): void {
    this.setBlocked(userId, true);
  }

  unblock(userId: number): void {
    this.setBlocked(userId, false);
  }

  private setBlocked(userId: number, value: boolean): void {
    const user = this.user(userId);
    if (user.blocked === value) return;
    user.blocked = value;
    const chat = this.chats.get(userId);
    if (!chat) return;
    const member = (status: string) => ({
      user: this.botUser(),
      status,
      ...(status === "kicked" ? { until_date: 0 } : {}),
    });
    this.enqueue("my_chat_member", {
      chat: this.apiChat(user),
      from: this.apiUser(user),
      date: now(),
      old_chat_member: member(value ? "member" : "kicked"),
      new_chat_member: member(value ? "kicked" : "member"),
    });
    this.changed(chat);
  }

  // ---- observing ----

  chat(userId: number): ChatView {
    const chat = this.chats.get(userId);
    const messages = chat ? chat.order.map((m) => this.view(m)) : [];
    return {
      userId,
      exists: chat !== undefined,
      blocked: this.users.get(userId)?.blocked ?? false,
      messages,
      bot: messages.filter((m) => m.from === "bot"),
      user: messages.filter((m) => m.from === "user"),
      actions: chat ? [...chat.actions] : [],
    };
  }

  waitFor(
    userId: number,
    predicate: (m: MessageView) => boolean,
    timeoutMs = 5000,
  ): Promise<MessageView> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        let found: MessageView | undefined;
        try {
          found = this.chat(userId).bot.find(predicate);
        } catch (err) {
          cleanup();
          reject(err);
          return true;
        }
        if (!found) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const onChange = (id: number) => {
        if (id === userId) check();
      };
      const onClose = () => {
        cleanup();
        reject(new Error("waitFor: the sandbox was closed"));
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.chat(userId).bot.map((m) => ({
          id: m.messageId,
          text: m.text,
          deleted: m.deleted,
        }));
        reject(
          new Error(
            `waitFor(${userId}): nothing matched within ${timeoutMs} ms; bot messages: ${JSON.stringify(seen)}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off("change", onChange);
        this.closers.delete(onClose);
      };
      this.events.on("change", onChange);
      this.closers.add(onClose);
      check();
    });
  }

  commands(opts: { scope?: Record<string, unknown>; languageCode?: string } = {}): BotCommand[] {
    const args: Record<string, string> = {};
    if (opts.scope) args.scope = JSON.stringify(opts.scope);
    if (opts.languageCode) args.language_code = opts.languageCode;
    return structuredClone(this.commandSets.get(this.scopeKey(args)) ?? []);
  }

  callsTo(method: string): CallRecord[] {
    const name = method.toLowerCase();
    return this.callLog
      .filter((c) => c.method.toLowerCase() === name)
      .map((c) => structuredClone(c));
  }

  calls(): CallRecord[] {
    return this.callLog.map((c) => structuredClone(c));
  }

  callbackAnswer(queryId: string): CallbackAnswer | undefined {
    const answer = this.callbacks.get(queryId)?.answer;
    return answer ? { ...answer } : undefined;
  }

  pendingUpdates(): Record<string, unknown>[] {
    return structuredClone(this.updates);
  }

  // ---- faults ----

  failNext(method: string, fault: FaultSpec): void {
    this.faults.add(fault.times ?? 1, { method: method.toLowerCase(), fault: { ...fault } });
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  // ---- control endpoints ----

  private async control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req, MAX_UPLOAD * 2);
    let input: Record<string, unknown> = Object.fromEntries(url.searchParams);
    if (body.length > 0) {
      try {
        input = { ...input, ...(JSON.parse(body.toString("utf8")) as Record<string, unknown>) };
      } catch {
        return sendJson(res, 400, { ok: false, error: "body must be JSON" });
      }
    }
    const action = url.pathname.slice("/control/".length);
    try {
      const result = await this.controlAction(action, input);
      sendJson(res, 200, { ok: true, result: result ?? null });
    } catch (e) {
      const status = e instanceof ControlNotFound ? 404 : 400;
      const message =
        e instanceof z.ZodError ? z.prettifyError(e) : e instanceof Error ? e.message : String(e);
      sendJson(res, status, { ok: false, error: message });
    }
  }

  private async controlAction(action: string, input: Record<string, unknown>): Promise<unknown> {
    const userId = z.coerce.number().int().positive();
    switch (action) {
      case "health":
        return { url: this.url, token: this.token };
      case "sendText": {
        const p = z.object({ userId, text: z.string() }).parse(input);
        return this.sendText(p.userId, p.text);
      }
      case "sendDocument": {
        const p = z
          .object({
            userId,
            name: z.string(),
            bytesBase64: z.string(),
            mimeType: z.string().optional(),
            caption: z.string().optional(),
            size: z.number().int().optional(),
          })
          .parse(input);
        return this.sendDocument(p.userId, {
          name: p.name,
          bytes: Buffer.from(p.bytesBase64, "base64"),
          ...(p.mimeType !== undefined ? { mimeType: p.mimeType } : {}),
          ...(p.caption !== undefined ? { caption: p.caption } : {}),
          ...(p.size !== undefined ? { size: p.size } : {}),
        });
      }
      case "sendPhoto": {
        const p = z
          .object({ userId, caption: z.string().optional(), bytesBase64: z.string().optional() })
          .parse(input);
        return this.sendPhoto(p.userId, {
          ...(p.caption !== undefined ? { caption: p.caption } : {}),
          ...(p.bytesBase64 !== undefined ? { bytes: Buffer.from(p.bytesBase64, "base64") } : {}),
        });
      }
      case "pressButton": {
        const p = z
          .object({ userId, messageId: z.coerce.number().int(), data: z.string() })
          .parse(input);
        return { callbackQueryId: this.pressButton(p.userId, p.messageId, p.data) };
      }
      case "setUser": {
        const p = z
          .object({
            userId,
            firstName: z.string().optional(),
            lastName: z.string().optional(),
            username: z.string().optional(),
            languageCode: z.string().optional(),
          })
          .parse(input);
        const { userId: id, ...profile } = p;
        this.setUser(id, profile);
        return true;
      }
      case "block":
      case "unblock": {
        const p = z.object({ userId }).parse(input);
        if (action === "block") this.block(p.userId);
        else this.unblock(p.userId);
        return true;
      }
      case "chat":
        return wireChat(this.chat(z.object({ userId }).parse(input).userId));
      case "waitFor": {
        const p = z
          .object({
            userId,
            timeoutMs: z.coerce.number().int().positive().optional(),
            textIncludes: z.string().optional(),
            textMatches: z.string().optional(),
            afterMessageId: z.coerce.number().int().optional(),
            hasDocument: z.boolean().optional(),
            hasKeyboard: z.boolean().optional(),
            includeDeleted: z.boolean().optional(),
          })
          .parse(input);
        const re = p.textMatches !== undefined ? new RegExp(p.textMatches) : undefined;
        const found = await this.waitFor(
          p.userId,
          (m) =>
            (p.includeDeleted || !m.deleted) &&
            (p.afterMessageId === undefined || m.messageId > p.afterMessageId) &&
            (p.textIncludes === undefined || (m.text ?? "").includes(p.textIncludes)) &&
            (re === undefined || re.test(m.text ?? "")) &&
            (p.hasDocument === undefined || (m.document !== undefined) === p.hasDocument) &&
            (p.hasKeyboard === undefined || (m.replyMarkup !== undefined) === p.hasKeyboard),
          p.timeoutMs,
        );
        return wireMessage(found);
      }
      case "commands": {
        const p = z
          .object({
            scope: z.record(z.string(), z.unknown()).optional(),
            languageCode: z.string().optional(),
          })
          .parse(input);
        return this.commands({
          ...(p.scope ? { scope: p.scope } : {}),
          ...(p.languageCode ? { languageCode: p.languageCode } : {}),
        });
      }
      case "calls": {
        const p = z.object({ method: z.string().optional() }).parse(input);
        return p.method ? this.callsTo(p.method) : this.calls();
      }
      case "callbackAnswer":
        return this.callbackAnswer(z.object({ id: z.string() }).parse(input).id) ?? null;
      case "pendingUpdates":
        return this.pendingUpdates();
      case "failNext": {
        const p = z
          .object({
            method: z.string(),
            status: z.number().int(),
            description: z.string().optional(),
            retryAfter: z.number().int().optional(),
            times: z.number().int().positive().optional(),
            rawBody: z.string().optional(),
            drop: z.boolean().optional(),
          })
          .parse(input);
        const { method, ...fault } = p;
        this.failNext(method, fault);
        return true;
      }
      case "latency":
        this.setLatency(z.object({ ms: z.coerce.number().int().min(0) }).parse(input).ms);
        return true;
      default:
        throw new ControlNotFound(`unknown control action ${action}`);
    }
  }
}

class ControlNotFound extends Error {}

function faultError(f: FaultSpec): ApiError {
  const defaults: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
  };
  const description =
    f.description ??
    (f.status === 429
      ? `Too Many Requests: retry after ${f.retryAfter ?? 1}`
      : (defaults[f.status] ?? `Error ${f.status}`));
  const retryAfter = f.retryAfter ?? (f.status === 429 ? 1 : undefined);
  return new ApiError(f.status, description, retryAfter);
}

function versionOf(f: Formatted): Omit<MessageVersion, "at"> {
  return {
    text: f.text,
    source: f.source,
    ...(f.parseMode ? { parseMode: f.parseMode } : {}),
    ...(f.parseMode?.toLowerCase() === "html" ? { html: f.source } : {}),
    ...(f.entities.length > 0 ? { entities: f.entities } : {}),
  };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
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

const wireDoc = ({ bytes, ...rest }: DocumentView): WireDocument => ({
  ...rest,
  bytesBase64: bytes.toString("base64"),
});

export function wireMessage(m: MessageView): WireMessage {
  const { document, photo, ...rest } = m;
  return {
    ...rest,
    ...(document ? { document: wireDoc(document) } : {}),
    ...(photo ? { photo: photo.map(wireDoc) } : {}),
  };
}

function wireChat(c: ChatView): WireChat {
  return {
    ...c,
    messages: c.messages.map(wireMessage),
    bot: c.bot.map(wireMessage),
    user: c.user.map(wireMessage),
  };
}

export async function startTelegramSandbox(
  opts: TelegramSandboxOptions = {},
): Promise<TelegramSandbox> {
  const sandbox = new Sandbox(opts);
  await sandbox.listen(opts.port ?? 0);
  return sandbox;
}
