/**
 * The Bot API methods of the Telegram stand-in that write to a chat: sendMessage,
 * editMessageText, editMessageReplyMarkup, deleteMessage, sendChatAction, and
 * answerCallbackQuery. Checks run in the order the Bot API server and tdlib make them, so the
 * first error a bad call gets is Telegram's.
 */

import { z } from "zod";
import {
  ApiError,
  bad,
  blocked,
  FieldError,
  notModified,
  parseJsonArg,
  tdInt,
  tdParse,
  tdString,
  toBool,
  toInt,
} from "./telegram-errors.js";
import { formatText, parseLinkPreview, versionOf } from "./telegram-format.js";
import { parseReplyMarkup, validateInline } from "./telegram-markup.js";
import { toApi } from "./telegram-objects.js";
import { type ChatRec, now, type StoredMessage, type TelegramState } from "./telegram-state.js";
import type { MessageVersion } from "./telegram-types.js";

/** core.telegram.org/bots/api: 1-4096 characters after entities parsing. */
export const MAX_TEXT = 4096;

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

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export function sendMessage(state: TelegramState, args: Record<string, string>) {
  const source = args.text ?? "";
  if (source === "") throw bad("Message text is empty");
  const text = formatText(source, args.parse_mode, args.entities, false);
  const linkPreview = parseLinkPreview(args);
  const markup = parseReplyMarkup(args.reply_markup);
  const chat = state.resolveChat(args.chat_id);
  const keyboard = markup?.inline ? validateInline(markup.inline) : undefined;
  if (text.text.length > MAX_TEXT) throw bad("message is too long");
  const replyTo = replyTarget(chat, args);
  if (chat.user.blocked) throw blocked();
  const msg = state.store(chat, "bot", "text", { ...versionOf(text), replyMarkup: keyboard });
  if (linkPreview) msg.linkPreview = linkPreview;
  if (replyTo) msg.replyTo = replyTo;
  state.changed(chat);
  return toApi(state, msg);
}

/** reply_parameters, or the older reply_to_message_id / allow_sending_without_reply. */
export function replyTarget(
  chat: ChatRec,
  args: Record<string, string>,
): StoredMessage | undefined {
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

export function editMessageText(state: TelegramState, args: Record<string, string>) {
  const source = args.text ?? "";
  if (source === "") throw bad("Message text is empty");
  const text = formatText(source, args.parse_mode, args.entities, false);
  const markup = parseReplyMarkup(args.reply_markup);
  const msg = editTarget(state, args);
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
  return applyEdit(state, msg, next);
}

export function editMessageReplyMarkup(state: TelegramState, args: Record<string, string>) {
  const markup = parseReplyMarkup(args.reply_markup);
  const msg = editTarget(state, args);
  if (msg.from !== "bot") throw bad("message can't be edited");
  const keyboard = markup?.inline ? validateInline(markup.inline) : undefined;
  if (same(msg.current.replyMarkup, keyboard)) throw notModified();
  return applyEdit(state, msg, { ...msg.current, replyMarkup: keyboard });
}

function editTarget(state: TelegramState, args: Record<string, string>): StoredMessage {
  if ((args.chat_id ?? "") === "" && toInt(args.message_id) === 0) {
    if ((args.inline_message_id ?? "") === "") throw bad("Message identifier is not specified");
    throw bad("MESSAGE_ID_INVALID");
  }
  return state.findMessage(args, "message to edit");
}

function applyEdit(state: TelegramState, msg: StoredMessage, next: Omit<MessageVersion, "at">) {
  const version = { ...next, at: Date.now() };
  msg.current = version;
  msg.versions.push(version);
  msg.editDate = now();
  state.changed(state.chats.get(msg.chatId)!);
  return toApi(state, msg);
}

export function deleteMessage(state: TelegramState, args: Record<string, string>) {
  if ((args.chat_id ?? "") === "") throw bad("Chat identifier is not specified");
  if (toInt(args.message_id) <= 0) throw bad("Message identifier is not specified");
  const msg = state.findMessage(args, "message to delete");
  msg.deleted = true;
  state.changed(state.chats.get(msg.chatId)!);
  return true;
}

export function answerCallbackQuery(state: TelegramState, args: Record<string, string>) {
  const query = state.callbacks.get(args.callback_query_id ?? "");
  if (!query || query.answer || Date.now() - query.createdAt > state.callbackTtlMs) {
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

export function sendChatAction(state: TelegramState, args: Record<string, string>) {
  const chat = state.resolveChat(args.chat_id);
  const action = args.action ?? "";
  if (!CHAT_ACTIONS.has(action)) throw bad("wrong parameter action in request");
  if (chat.user.blocked) throw blocked();
  chat.actions.push(action);
  return true;
}
