/**
 * Text as tdlib keeps it, shared by the Telegram stand-in's HTML and URL parsers (ported from
 * tdlib: td/telegram/MessageEntity.cpp, td/utils): message entities and their sort order,
 * fix_formatted_text, the TextError carrying tdlib's wording, and byte-level character
 * classes. Offsets in errors are byte offsets into the UTF-8 text, entity offsets are UTF-16
 * code units, as in the Bot API.
 */

export interface MessageEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
  user?: { id: number; is_bot: boolean; first_name: string };
}

/** A text Telegram refused; `message` is tdlib's text (the Bot API adds "Bad Request: "). */
export class TextError extends Error {}

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export const isSpace = (c: number) =>
  c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x00 || c === 0x0b;
export const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
export const isAlpha = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
export const isAlnum = (c: number) => isDigit(c) || isAlpha(c);
export const isHexDigit = (c: number) =>
  isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
export const hexToInt = (c: number) => (isDigit(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10);

// Bot API names of tdlib entity types, with tdlib's sort priorities.
const PRIORITY: Record<string, number> = {
  mention: 50,
  hashtag: 50,
  bot_command: 50,
  url: 50,
  email: 50,
  bold: 90,
  italic: 91,
  code: 20,
  pre: 11,
  text_link: 49,
  text_mention: 49,
  cashtag: 50,
  phone_number: 50,
  underline: 92,
  strikethrough: 93,
  blockquote: 0,
  expandable_blockquote: 0,
  bank_card_number: 50,
  spoiler: 94,
  custom_emoji: 99,
};
const priority = (e: MessageEntity) =>
  e.type === "pre" && e.language !== undefined ? 10 : (PRIORITY[e.type] ?? 50);

export function sortEntities(entities: MessageEntity[]): MessageEntity[] {
  return entities.sort(
    (a, b) => a.offset - b.offset || b.length - a.length || priority(a) - priority(b),
  );
}

/**
 * tdlib's fix_formatted_text for outgoing messages: control characters become spaces, '\r' and
 * U+2028..U+202E vanish, entities covering only blanks are dropped, trailing blanks and leading
 * blank lines (before the first entity) are trimmed. Throws "Text must be non-empty".
 */
export function fixFormattedText(
  input: string,
  inputEntities: MessageEntity[],
  allowEmpty = false,
): { text: string; entities: MessageEntity[] } {
  const entities = sortEntities(inputEntities.map((e) => ({ ...e })));
  // Map each UTF-16 position of the input to its position in the cleaned text.
  const map: number[] = new Array(input.length + 1);
  let out = "";
  const nonSpace: boolean[] = [];
  for (let i = 0; i < input.length; i++) {
    map[i] = out.length;
    const c = input.charCodeAt(i);
    if (c === 0x0d || (c >= 0x2028 && c <= 0x202e)) continue;
    if (c < 0x20 && c !== 0x0a) {
      out += " ";
      nonSpace.push(false);
    } else {
      out += input[i];
      nonSpace.push(c !== 0x20 && c !== 0x0a);
    }
  }
  map[input.length] = out.length;
  let kept = entities
    .map((e) => ({
      ...e,
      offset: map[e.offset] as number,
      length: (map[e.offset + e.length] as number) - (map[e.offset] as number),
    }))
    .filter((e) => e.length > 0 && nonSpace.slice(e.offset, e.offset + e.length).some(Boolean));
  const last = nonSpace.lastIndexOf(true);
  if (last < 0) {
    if (allowEmpty) return { text: "", entities: [] };
    throw new TextError("Text must be non-empty");
  }
  const end = last + 1;
  out = out.slice(0, end);
  kept = kept.map((e) => (e.offset + e.length > end ? { ...e, length: end - e.offset } : e));
  const firstEntity = kept[0]?.offset ?? out.length;
  let start = 0;
  while (start < firstEntity && (out[start] === " " || out[start] === "\n")) start++;
  return {
    text: out.slice(start),
    entities: kept.map((e) => ({ ...e, offset: e.offset - start })),
  };
}

/** UTF-8 byte length of a string. */
export const byteLength = (s: string) => enc.encode(s).length;
