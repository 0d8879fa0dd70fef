/**
 * reply_markup in the Telegram stand-in: parsed structurally as the Bot API server does before
 * it looks at the chat, then checked as tdlib does once the chat is known (button texts, URLs,
 * callback data of at most 64 bytes, Web App links HTTPS only), giving the keyboard stored.
 */

import { z } from "zod";
import { bad, FieldError, parseJsonArg, tdParse, tdString } from "./telegram-errors.js";
import { byteLength } from "./telegram-text.js";
import type { InlineKeyboardButton, InlineKeyboardMarkup } from "./telegram-types.js";
import { checkLink } from "./telegram-url.js";

/** core.telegram.org/bots/api: callback_data is 1-64 bytes. */
const MAX_CALLBACK_DATA = 64;

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

export interface ParsedMarkup {
  inline?: ParsedButton[][];
}

/** Structural parsing, as the Bot API server does before it looks at the chat. */
export function parseReplyMarkup(raw: string | undefined): ParsedMarkup | undefined {
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
export function validateInline(rows: ParsedButton[][]): InlineKeyboardMarkup {
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
