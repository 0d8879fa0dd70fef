/**
 * What the Telegram stand-in remembers: users, their private chats with the bot and every
 * message version, files, callback queries, command lists, and the update queue. The Bot API
 * methods, the user-side driving and the observers all read and write it through here; it
 * emits "change" with the user id whenever a chat changes.
 */

import { randomBytes, randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import { bad, toInt } from "./telegram-errors.js";
import type {
  BotCommand,
  CallbackAnswer,
  MessageVersion,
  TelegramSandboxOptions,
} from "./telegram-types.js";
import { Updates } from "./telegram-updates.js";

export interface UserRec {
  id: number;
  firstName: string;
  lastName?: string;
  username?: string;
  languageCode: string;
  blocked: boolean;
}

export interface FileRec {
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

export interface StoredMessage {
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

export interface ChatRec {
  user: UserRec;
  messages: Map<number, StoredMessage>;
  order: StoredMessage[];
  nextMessageId: number;
  chatInstance: string;
  actions: string[];
}

export interface CallbackRec {
  id: string;
  userId: number;
  messageId: number;
  data: string;
  createdAt: number;
  answer?: CallbackAnswer;
}

/** Unix time in seconds, as message dates are. */
export const now = () => Math.floor(Date.now() / 1000);
const b64url = (n: number) => randomBytes(n).toString("base64url");
/** A 19-digit id, as callback query ids and chat instances look. */
export const numericId = () =>
  `${randomInt(1, 9)}${String(randomInt(0, 1e9)).padStart(9, "0")}${String(randomInt(0, 1e9)).padStart(9, "0")}`;

export class TelegramState {
  /** The bot's token; BotFather's /revoke replaces it (revokeToken). */
  token: string;
  readonly botId: number;
  readonly botName: string;
  readonly botUsername: string;
  /** After this long a callback query can no longer be answered. */
  readonly callbackTtlMs: number;
  readonly events = new EventEmitter();
  readonly users = new Map<number, UserRec>();
  readonly chats = new Map<number, ChatRec>();
  readonly files = new Map<string, FileRec>();
  readonly filesByPath = new Map<string, FileRec>();
  readonly callbacks = new Map<string, CallbackRec>();
  readonly commandSets = new Map<string, BotCommand[]>();
  readonly updates: Updates;
  /** Numbers the file paths getFile hands out. */
  fileCounter = 0;
  /** Called when the sandbox closes (pending waitFor calls reject). */
  readonly closers = new Set<() => void>();

  constructor(opts: TelegramSandboxOptions) {
    this.token = opts.token ?? "123456:AAHsandboxTokenForTests0123456789ab";
    const id = /^(\d+):/.exec(this.token)?.[1];
    if (!id) throw new Error(`not a bot token: ${this.token}`);
    this.botId = Number(id);
    this.botName = opts.botName ?? "Sandbox Bot";
    this.botUsername = opts.botUsername ?? "sandbox_bot";
    this.callbackTtlMs = opts.callbackQueryTtlMs ?? 15_000;
    this.updates = new Updates(opts.allowLoopbackHttp ?? false);
    this.events.setMaxListeners(0);
  }

  user(userId: number): UserRec {
    if (!Number.isSafeInteger(userId) || userId <= 0) throw new Error(`bad user id ${userId}`);
    let user = this.users.get(userId);
    if (!user) {
      user = { id: userId, firstName: `User ${userId}`, languageCode: "en", blocked: false };
      this.users.set(userId, user);
    }
    return user;
  }

  chatOf(userId: number): ChatRec {
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

  /** check_chat: the private chat behind chat_id, as this bot knows it. */
  resolveChat(chatIdRaw: string | undefined): ChatRec {
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

  /** check_message: a message of that chat that still exists. */
  findMessage(args: Record<string, string>, what: string): StoredMessage {
    const chat = this.resolveChat(args.chat_id);
    const id = toInt(args.message_id);
    const msg = id > 0 ? chat.messages.get(id) : undefined;
    if (!msg || msg.deleted) throw bad(`${what} not found`);
    return msg;
  }

  store(
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

  storeFile(
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

  changed(chat: ChatRec): void {
    this.events.emit("change", chat.user.id);
  }
}
