/**
 * Files in the Telegram stand-in: sendDocument (an upload, an attach:// part, or a file_id of
 * a document; URLs can't be fetched), getFile with Telegram's 20 MB download limit and the
 * file_path the download route serves, and the MIME types Telegram guesses from a name.
 */

import { bad, blocked } from "./telegram-errors.js";
import { formatText, versionOf } from "./telegram-format.js";
import type { UploadedFile } from "./telegram-http-util.js";
import { parseReplyMarkup, validateInline } from "./telegram-markup.js";
import { replyTarget } from "./telegram-messages.js";
import { toApi } from "./telegram-objects.js";
import type { FileRec, TelegramState } from "./telegram-state.js";

/** core.telegram.org/bots/api: captions are 0-1024 characters after entities parsing. */
const MAX_CAPTION = 1024;
/** getFile: bots can download files of up to 20 MB. */
const MAX_DOWNLOAD = 20 * 1024 * 1024;

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

export function mimeFor(name: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
  return ext ? MIME_BY_EXT[ext] : undefined;
}

/** get_input_file: an attach:// part, a part named like the field, or a file_id/URL. */
function inputFile(
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

export function sendDocument(
  state: TelegramState,
  args: Record<string, string>,
  files: Record<string, UploadedFile>,
) {
  const input = inputFile(args.document, files, "document");
  if (!input) throw bad("there is no document in the request");
  const caption = formatText(args.caption ?? "", args.parse_mode, args.caption_entities, true);
  const markup = parseReplyMarkup(args.reply_markup);
  const chat = state.resolveChat(args.chat_id);
  const keyboard = markup?.inline ? validateInline(markup.inline) : undefined;
  if (caption.text.length > MAX_CAPTION) throw bad("message caption is too long");
  const replyTo = replyTarget(chat, args);
  let existing: FileRec | undefined;
  if ("upload" in input) {
    if (input.upload.bytes.length === 0) throw bad("file must be non-empty");
  } else {
    existing = state.files.get(input.fileId);
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
      ? state.storeFile("document", input.upload.bytes, {
          name: input.upload.filename,
          mimeType: mimeFor(input.upload.filename) ?? "application/octet-stream",
        })
      : undefined);
  if (!file) throw bad("there is no document in the request");
  const msg = state.store(chat, "bot", "document", {
    ...versionOf(caption),
    replyMarkup: keyboard,
  });
  msg.document = file;
  if (replyTo) msg.replyTo = replyTo;
  state.changed(chat);
  return toApi(state, msg);
}

export function getFile(state: TelegramState, args: Record<string, string>) {
  const fileId = args.file_id ?? "";
  if (fileId === "") throw bad("file_id not specified");
  const file = state.files.get(fileId);
  if (!file) throw bad("invalid file_id");
  if (file.size > MAX_DOWNLOAD) throw bad("file is too big");
  if (!file.path) {
    const ext = file.name
      ? /\.([A-Za-z0-9]+)$/.exec(file.name)?.[1]
      : file.kind === "photo"
        ? "jpg"
        : undefined;
    file.path = `${file.kind === "photo" ? "photos" : "documents"}/file_${state.fileCounter++}${ext ? `.${ext}` : ""}`;
    state.filesByPath.set(file.path, file);
  }
  return {
    file_id: file.fileId,
    file_unique_id: file.fileUniqueId,
    file_size: file.size,
    file_path: file.path,
  };
}
