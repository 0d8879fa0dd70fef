// Telegram's HTML parse mode in the stand-in, ported from tdlib (td/telegram/MessageEntity.cpp:
// parse_html, decode_html_entity) so the sandbox accepts and rejects exactly what Telegram does
// and answers with the same error texts (byte offsets into the UTF-8 text).

import {
  dec,
  enc,
  hexToInt,
  isAlnum,
  isAlpha,
  isDigit,
  isHexDigit,
  isSpace,
  type MessageEntity,
  sortEntities,
  TextError,
} from "./telegram-text.js";
import { checkLink } from "./telegram-url.js";

function appendUtf8(out: number[], code: number): void {
  if (code <= 0x7f) out.push(code);
  else if (code <= 0x7ff) out.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
  else if (code <= 0xffff)
    out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
  else
    out.push(
      0xf0 | (code >> 18),
      0x80 | ((code >> 12) & 0x3f),
      0x80 | ((code >> 6) & 0x3f),
      0x80 | (code & 0x3f),
    );
}

/** tdlib's decode_html_entity: the decoded code point and where parsing continues, or null. */
function decodeHtmlEntity(at: (i: number) => number, pos: number): [number, number] | null {
  let end = pos + 1;
  let res = 0;
  if (at(pos + 1) === 0x23 /* # */) {
    end++;
    if (at(pos + 2) === 0x78 /* x */) {
      end++;
      while (isHexDigit(at(end))) res = res * 16 + hexToInt(at(end++));
    } else {
      while (isDigit(at(end))) res = res * 10 + at(end++) - 0x30;
    }
    if (res === 0 || res >= 0x10ffff || end - pos >= 10) return null;
  } else {
    const start = end;
    while (isAlpha(at(end))) end++;
    let name = "";
    for (let i = start; i < end; i++) name += String.fromCharCode(at(i));
    const named: Record<string, number> = { lt: 0x3c, gt: 0x3e, amp: 0x26, quot: 0x22 };
    const code = named[name];
    if (code === undefined) return null; // unsupported named entity: the '&' stays literal
    res = code;
  }
  return [res, at(end) === 0x3b /* ; */ ? end + 1 : end];
}

const ALLOWED_TAGS = new Set([
  "a",
  "b",
  "strong",
  "i",
  "em",
  "s",
  "strike",
  "del",
  "u",
  "ins",
  "tg-spoiler",
  "tg-emoji",
  "span",
  "pre",
  "code",
  "blockquote",
]);

const INT64_MAX = 9223372036854775807n;

/** Parses Telegram's HTML parse mode (tdlib's parse_html). Throws TextError with tdlib's text. */
export function parseHtml(html: string): { text: string; entities: MessageEntity[] } {
  const bytes = enc.encode(html);
  const n = bytes.length;
  const at = (i: number) => (i < n ? (bytes[i] as number) : 0);
  const str = (from: number, to: number) => dec.decode(bytes.subarray(from, to));
  const out: number[] = [];
  const entities: MessageEntity[] = [];
  const nested: { tag: string; arg: string; utf16: number; bytePos: number }[] = [];
  let utf16 = 0;
  let surrogates = false;

  for (let i = 0; i < n; i++) {
    const c = at(i);
    if (c === 0x26 /* & */) {
      const decoded = decodeHtmlEntity(at, i);
      if (decoded) {
        const [code, next] = decoded;
        utf16 += code > 0xffff ? 2 : 1;
        if (code >= 0xd800 && code <= 0xdfff) surrogates = true;
        appendUtf8(out, code);
        i = next - 1;
        continue;
      }
    }
    if (c !== 0x3c /* < */) {
      if ((c & 0xc0) !== 0x80) utf16 += c >= 0xf0 ? 2 : 1;
      out.push(c);
      continue;
    }

    const begin = i++;
    if (at(i) !== 0x2f /* / */) {
      while (!isSpace(at(i)) && at(i) !== 0x3e) i++;
      if (at(i) === 0) throw new TextError(`Unclosed start tag at byte offset ${begin}`);
      const tag = str(begin + 1, i).toLowerCase();
      if (!ALLOWED_TAGS.has(tag)) {
        throw new TextError(`Unsupported start tag "${tag}" at byte offset ${begin}`);
      }
      let arg = "";
      while (at(i) !== 0x3e) {
        while (at(i) !== 0 && isSpace(at(i))) i++;
        if (at(i) === 0x3e) break;
        const attrBegin = i;
        while (
          !isSpace(at(i)) &&
          at(i) !== 0x3d &&
          at(i) !== 0x3e &&
          at(i) !== 0x2f &&
          at(i) !== 0x22 &&
          at(i) !== 0x27
        ) {
          i++;
        }
        const attr = str(attrBegin, i);
        if (attr === "") {
          throw new TextError(`Empty attribute name in the tag "${tag}" at byte offset ${begin}`);
        }
        while (at(i) !== 0 && isSpace(at(i))) i++;
        if (at(i) !== 0x3d /* = */) {
          if (at(i) === 0)
            throw new TextError(`Unclosed start tag "${tag}" at byte offset ${begin}`);
          if (tag === "blockquote" && attr === "expandable") arg = "1";
          continue;
        }
        i++;
        while (at(i) !== 0 && isSpace(at(i))) i++;
        if (at(i) === 0) throw new TextError(`Unclosed start tag "${tag}" at byte offset ${begin}`);
        let value: string;
        if (at(i) !== 0x27 && at(i) !== 0x22) {
          const tokenBegin = i;
          while (isAlnum(at(i)) || at(i) === 0x2e || at(i) === 0x2d) i++;
          value = str(tokenBegin, i).toLowerCase();
          if (!isSpace(at(i)) && at(i) !== 0x3e) {
            throw new TextError(`Unexpected end of name token at byte offset ${tokenBegin}`);
          }
        } else {
          const quote = at(i++);
          const valueBytes: number[] = [];
          while (at(i) !== quote && at(i) !== 0) {
            if (at(i) === 0x26) {
              const decoded = decodeHtmlEntity(at, i);
              if (decoded) {
                appendUtf8(valueBytes, decoded[0]);
                i = decoded[1];
                continue;
              }
            }
            valueBytes.push(at(i++));
          }
          if (at(i) === quote) i++;
          value = dec.decode(new Uint8Array(valueBytes));
        }
        if (at(i) === 0) throw new TextError(`Unclosed start tag at byte offset ${begin}`);
        if (tag === "a" && attr === "href") arg = value;
        else if (tag === "code" && attr === "class" && value.startsWith("language-"))
          arg = value.slice(9);
        else if (tag === "span" && attr === "class" && value.startsWith("tg-"))
          arg = value.slice(3);
        else if (tag === "tg-emoji" && attr === "emoji-id") arg = value;
        else if (tag === "blockquote" && attr === "expandable") arg = "1";
      }
      if (tag === "span" && arg !== "spoiler") {
        throw new TextError(`Tag "span" must have class "tg-spoiler" at byte offset ${begin}`);
      }
      nested.push({ tag, arg, utf16, bytePos: out.length });
    } else {
      if (nested.length === 0) throw new TextError(`Unexpected end tag at byte offset ${begin}`);
      while (!isSpace(at(i)) && at(i) !== 0x3e) i++;
      const endTag = str(begin + 2, i).toLowerCase();
      while (at(i) !== 0 && isSpace(at(i))) i++;
      if (at(i) !== 0x3e) throw new TextError(`Unclosed end tag at byte offset ${begin}`);
      const open = nested[nested.length - 1] as (typeof nested)[number];
      if (endTag !== "" && endTag !== open.tag) {
        throw new TextError(
          `Unmatched end tag at byte offset ${begin}, expected "</${open.tag}>", found "</${endTag}>"`,
        );
      }
      if (utf16 > open.utf16) {
        const offset = open.utf16;
        const length = utf16 - offset;
        const last = entities[entities.length - 1];
        switch (open.tag) {
          case "i":
          case "em":
            entities.push({ type: "italic", offset, length });
            break;
          case "b":
          case "strong":
            entities.push({ type: "bold", offset, length });
            break;
          case "s":
          case "strike":
          case "del":
            entities.push({ type: "strikethrough", offset, length });
            break;
          case "u":
          case "ins":
            entities.push({ type: "underline", offset, length });
            break;
          case "tg-spoiler":
          case "span":
            entities.push({ type: "spoiler", offset, length });
            break;
          case "tg-emoji": {
            let id: bigint | undefined;
            try {
              id = /^-?\d+$/.test(open.arg) ? BigInt(open.arg) : undefined;
            } catch {
              id = undefined;
            }
            if (id === undefined || id === 0n || id > INT64_MAX || id < -INT64_MAX - 1n) {
              throw new TextError("Invalid custom emoji identifier specified");
            }
            entities.push({ type: "custom_emoji", offset, length, custom_emoji_id: id.toString() });
            break;
          }
          case "a": {
            const url = open.arg || dec.decode(new Uint8Array(out.slice(open.bytePos)));
            const checked = checkLink(url);
            if ("url" in checked)
              entities.push({ type: "text_link", offset, length, url: checked.url });
            break;
          }
          case "pre":
            if (
              last?.type === "code" &&
              last.offset === offset &&
              last.length === length &&
              last.language !== undefined
            ) {
              last.type = "pre";
            } else {
              entities.push({ type: "pre", offset, length });
            }
            break;
          case "code":
            if (
              last?.type === "pre" &&
              last.language === undefined &&
              last.offset === offset &&
              last.length === length &&
              open.arg !== ""
            ) {
              last.language = open.arg;
            } else {
              entities.push({
                type: "code",
                offset,
                length,
                ...(open.arg !== "" ? { language: open.arg } : {}),
              });
            }
            break;
          case "blockquote":
            entities.push({
              type: open.arg !== "" ? "expandable_blockquote" : "blockquote",
              offset,
              length,
            });
            break;
        }
      }
      nested.pop();
    }
  }
  const unclosed = nested[nested.length - 1];
  if (unclosed) {
    throw new TextError(`Can't find end tag corresponding to start tag "${unclosed.tag}"`);
  }
  for (const e of entities) if (e.type === "code") delete e.language;
  if (surrogates) {
    throw new TextError(
      "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units",
    );
  }
  return { text: dec.decode(new Uint8Array(out)), entities: sortEntities(entities) };
}
