/**
 * Formatted text in the Telegram stand-in: get_formatted_text + fix_formatted_text of the Bot
 * API server and tdlib (parse_mode HTML, or explicit entities checked and cleaned as the Bot
 * API does; Markdown is refused with a 501 rather than guessed), and link_preview_options.
 */

import { z } from "zod";
import {
  ApiError,
  bad,
  FieldError,
  parseJsonArg,
  tdInt,
  tdParse,
  tdString,
  toBool,
} from "./telegram-errors.js";
import { parseHtml } from "./telegram-html.js";
import { byteLength, fixFormattedText, type MessageEntity, TextError } from "./telegram-text.js";
import type { MessageVersion } from "./telegram-types.js";
import { checkLink } from "./telegram-url.js";

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

export interface Formatted {
  text: string;
  entities: MessageEntity[];
  source: string;
  parseMode?: string;
}

/** get_formatted_text + fix_formatted_text of the Bot API server and tdlib. */
export function formatText(
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

export function parseLinkPreview(
  args: Record<string, string>,
): Record<string, unknown> | undefined {
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

/** A message version (text or caption) from formatted text. */
export function versionOf(f: Formatted): Omit<MessageVersion, "at"> {
  return {
    text: f.text,
    source: f.source,
    ...(f.parseMode ? { parseMode: f.parseMode } : {}),
    ...(f.parseMode?.toLowerCase() === "html" ? { html: f.source } : {}),
    ...(f.entities.length > 0 ? { entities: f.entities } : {}),
  };
}
