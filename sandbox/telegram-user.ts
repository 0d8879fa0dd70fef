/**
 * Playing the user in the Telegram stand-in: what a Telegram client would send to the bot
 * (texts with the bot_command entities clients add, documents, photos in three sizes, button
 * presses), profile changes, and blocking the bot. Each one queues the update the bot gets.
 */

import { mimeFor } from "./telegram-files.js";
import { MAX_TEXT } from "./telegram-messages.js";
import { apiChat, apiUser, botUser, toApi } from "./telegram-objects.js";
import { now, numericId, type StoredMessage, type TelegramState } from "./telegram-state.js";
import type { MessageEntity } from "./telegram-text.js";
import type { MessageVersion, UserProfile } from "./telegram-types.js";

function userMessage(
  state: TelegramState,
  userId: number,
  kind: StoredMessage["kind"],
  version: Omit<MessageVersion, "at">,
  attach?: (msg: StoredMessage) => void,
): Record<string, unknown> {
  const chat = state.chatOf(userId);
  const msg = state.store(chat, "user", kind, version);
  attach?.(msg);
  const api = toApi(state, msg);
  state.updates.enqueue("message", api);
  state.changed(chat);
  return api;
}

export function sendText(state: TelegramState, userId: number, text: string) {
  if (text.trim() === "") throw new Error("sendText: Telegram clients don't send empty messages");
  if (text.length > MAX_TEXT) throw new Error("sendText: longer than Telegram allows (4096)");
  const entities: MessageEntity[] = [];
  // tdlib's bot command matcher, as clients apply it to what users type.
  const re =
    /(?<![\p{L}\p{N}_/<>])\/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{3,32})?(?![\p{L}\p{N}_/<>])/gu;
  for (const m of text.matchAll(re)) {
    entities.push({ type: "bot_command", offset: m.index, length: m[0].length });
  }
  return userMessage(state, userId, "text", {
    text,
    source: text,
    ...(entities.length > 0 ? { entities } : {}),
  });
}

export function sendDocument(
  state: TelegramState,
  userId: number,
  doc: { name: string; bytes: Uint8Array; mimeType?: string; caption?: string; size?: number },
) {
  if (doc.bytes.length === 0 && !doc.size) throw new Error("sendDocument: empty file");
  const file = state.storeFile("document", doc.bytes, {
    name: doc.name,
    mimeType: doc.mimeType ?? mimeFor(doc.name) ?? "application/octet-stream",
    ...(doc.size !== undefined ? { size: doc.size } : {}),
  });
  return userMessage(
    state,
    userId,
    "document",
    doc.caption ? { text: doc.caption, source: doc.caption } : {},
    (msg) => {
      msg.document = file;
    },
  );
}

export function sendPhoto(
  state: TelegramState,
  userId: number,
  opts: { bytes?: Uint8Array; caption?: string } = {},
) {
  const base = opts.bytes ?? Buffer.from("ffd8ffe000104a46494600010100000100010000ffd9", "hex");
  const sizes = [
    [90, 68],
    [320, 240],
    [800, 600],
  ] as const;
  const photo = sizes.map(([width, height]) => state.storeFile("photo", base, { width, height }));
  return userMessage(
    state,
    userId,
    "photo",
    opts.caption ? { text: opts.caption, source: opts.caption } : {},
    (msg) => {
      msg.photo = photo;
    },
  );
}

/** Returns the new callback query id. Throws if the message or button doesn't exist. */
export function pressButton(
  state: TelegramState,
  userId: number,
  messageId: number,
  data: string,
): string {
  const chat = state.chats.get(userId);
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
  state.callbacks.set(id, { id, userId, messageId, data, createdAt: Date.now() });
  state.updates.enqueue("callback_query", {
    id,
    from: apiUser(chat.user),
    message: toApi(state, msg),
    chat_instance: chat.chatInstance,
    data,
  });
  return id;
}

export function setUser(state: TelegramState, userId: number, profile: UserProfile): void {
  const user = state.user(userId);
  if (profile.firstName !== undefined) user.firstName = profile.firstName;
  if (profile.lastName !== undefined) user.lastName = profile.lastName;
  if (profile.username !== undefined) user.username = profile.username;
  if (profile.languageCode !== undefined) user.languageCode = profile.languageCode;
}

/** Blocking or unblocking the bot: a my_chat_member update when the chat exists. */
export function setBlocked(state: TelegramState, userId: number, value: boolean): void {
  const user = state.user(userId);
  if (user.blocked === value) return;
  user.blocked = value;
  const chat = state.chats.get(userId);
  if (!chat) return;
  const member = (status: string) => ({
    user: botUser(state),
    status,
    ...(status === "kicked" ? { until_date: 0 } : {}),
  });
  state.updates.enqueue("my_chat_member", {
    chat: apiChat(user),
    from: apiUser(user),
    date: now(),
    old_chat_member: member(value ? "member" : "kicked"),
    new_chat_member: member(value ? "kicked" : "member"),
  });
  state.changed(chat);
}
