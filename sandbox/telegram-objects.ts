/**
 * The Telegram stand-in's records as the Bot API writes them (User, Chat, Document, PhotoSize,
 * Message), and as a test reads them (MessageView: every version, what the user sees).
 */

import type { FileRec, StoredMessage, TelegramState, UserRec } from "./telegram-state.js";
import type { DocumentView, MessageView } from "./telegram-types.js";

export function botUser(state: TelegramState) {
  return { id: state.botId, is_bot: true, first_name: state.botName, username: state.botUsername };
}

export function apiUser(u: UserRec) {
  return {
    id: u.id,
    is_bot: false,
    first_name: u.firstName,
    ...(u.lastName ? { last_name: u.lastName } : {}),
    ...(u.username ? { username: u.username } : {}),
    language_code: u.languageCode,
  };
}

export function apiChat(u: UserRec) {
  return {
    id: u.id,
    first_name: u.firstName,
    ...(u.lastName ? { last_name: u.lastName } : {}),
    ...(u.username ? { username: u.username } : {}),
    type: "private",
  };
}

function apiFile(f: FileRec) {
  return {
    ...(f.name !== undefined ? { file_name: f.name } : {}),
    ...(f.mimeType !== undefined ? { mime_type: f.mimeType } : {}),
    file_id: f.fileId,
    file_unique_id: f.fileUniqueId,
    file_size: f.size,
  };
}

/** The Message object as the Bot API returns it now (a reply's message without its own reply). */
export function toApi(
  state: TelegramState,
  msg: StoredMessage,
  withReply = true,
): Record<string, unknown> {
  const chat = state.chats.get(msg.chatId)!;
  const out: Record<string, unknown> = {
    message_id: msg.messageId,
    from: msg.from === "bot" ? botUser(state) : apiUser(chat.user),
    chat: apiChat(chat.user),
    date: msg.date,
  };
  if (msg.editDate !== undefined) out.edit_date = msg.editDate;
  if (withReply && msg.replyTo) out.reply_to_message = toApi(state, msg.replyTo, false);
  const v = msg.current;
  const entities = v.entities && v.entities.length > 0 ? v.entities : undefined;
  if (msg.kind === "text") {
    out.text = v.text;
    if (entities) out.entities = entities;
    if (msg.linkPreview) out.link_preview_options = msg.linkPreview;
  } else {
    if (msg.kind === "document" && msg.document) out.document = apiFile(msg.document);
    if (msg.kind === "photo" && msg.photo) {
      out.photo = msg.photo.map((p) => ({
        ...apiFile(p),
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

/** A copy a test can keep: every version, the files' bytes, and the Bot API form. */
export function view(state: TelegramState, msg: StoredMessage): MessageView {
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
    raw: toApi(state, msg),
  };
}
