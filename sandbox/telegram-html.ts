// Text handling of the Telegram sandbox, ported from tdlib (td/telegram/MessageEntity.cpp:
// parse_html, decode_html_entity, fix_formatted_text; td/utils/HttpUrl.cpp: parse_url;
// LinkManager::check_link) so the sandbox accepts and rejects exactly what Telegram does and
// answers with the same error texts. Offsets in errors are byte offsets into the UTF-8 text,
// entity offsets are UTF-16 code units, as in the Bot API.

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

const enc = new TextEncoder();
const dec = new TextDecoder();

const isSpace = (c: number) =>
  c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x00 || c === 0x0b;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isAlpha = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isAlnum = (c: number) => isDigit(c) || isAlpha(c);
const isHexDigit = (c: number) =>
  isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const hexToInt = (c: number) => (isDigit(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10);

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

// ---- URLs (td/utils/HttpUrl.cpp parse_url, LinkManager::check_link) ----

const URL_PART_OK = new Set("._-!$,~*'();&+=".split("").map((c) => c.charCodeAt(0)));

function checkUrlPart(part: string, name: string, allowColon: boolean): void {
  const b = enc.encode(part);
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (isAlnum(c) || URL_PART_OK.has(c) || (allowColon && c === 0x3a)) continue;
    if (
      c === 0x25 &&
      i + 2 < b.length &&
      isHexDigit(b[i + 1] as number) &&
      isHexDigit(b[i + 2] as number)
    ) {
      i += 2;
      continue;
    }
    if (c >= 128) continue;
    throw new TextError(`Disallowed character in URL ${name}`);
  }
}

function parseUrl(url: string): {
  protocol: "http" | "https";
  url: string;
  host: string;
  isIpv6: boolean;
  userinfo: string;
  port: number;
} {
  let rest = url;
  let protocol: "http" | "https" = "http";
  const m = /^([^:/?#@[\]]*):\/\//.exec(url);
  if (m) {
    const p = (m[1] as string).toLowerCase();
    if (p === "http" || p === "https") protocol = p;
    else throw new TextError("Unsupported URL protocol");
    rest = url.slice(m[0].length);
  }
  const hostEnd = rest.search(/[/?#]/);
  const userinfoHostPort = hostEnd < 0 ? rest : rest.slice(0, hostEnd);
  let query = hostEnd < 0 ? "" : rest.slice(hostEnd);
  let port = 0;
  let userinfoHost = userinfoHostPort;
  let colon = userinfoHostPort.length - 1;
  while (colon > 0 && !":]@".includes(userinfoHostPort[colon] as string)) colon--;
  if (colon > 0 && userinfoHostPort[colon] === ":") {
    const portStr = userinfoHostPort.slice(colon + 1).replace(/^0+(?=.)/, "");
    port = /^\d{1,9}$/.test(portStr) && Number(portStr) > 0 ? Number(portStr) : -1;
    userinfoHost = userinfoHostPort.slice(0, colon);
  }
  if (port < 0 || port > 65535) throw new TextError("Wrong port number specified in the URL");
  const atPos = userinfoHost.lastIndexOf("@");
  const userinfo = atPos < 0 ? "" : userinfoHost.slice(0, atPos);
  let host = userinfoHost.slice(atPos + 1);
  let isIpv6 = false;
  if (host.startsWith("[") && host.endsWith("]") && host.length >= 2) {
    isIpv6 = true;
    host = host.slice(1, -1);
  }
  if (host === "") throw new TextError("URL host is empty");
  if (host === ".") throw new TextError("Host is invalid");
  query = query.replace(/[\t\n\v\r \0]+$/, "");
  if (query === "") query = "/";
  let queryStr = query.startsWith("/") ? "" : "/";
  for (const ch of query) {
    const code = ch.codePointAt(0) as number;
    queryStr += code <= 0x20 ? `%${code.toString(16).toUpperCase().padStart(2, "0")}` : ch;
  }
  host = host.toLowerCase();
  if (isIpv6) {
    if (!/^[0-9a-f:.]+$/.test(host)) throw new TextError("Wrong IPv6 address specified in the URL");
  } else {
    checkUrlPart(host, "host", false);
  }
  checkUrlPart(userinfo, "userinfo", true);
  const hostPart = isIpv6 ? `[${host}]` : host;
  return {
    protocol,
    host,
    isIpv6,
    userinfo,
    port,
    url: `${protocol}://${userinfo ? `${userinfo}@` : ""}${hostPart}${port ? `:${port}` : ""}${queryStr}`,
  };
}

/** LinkManager::check_link: the normalized link, or tdlib's reason it is refused. */
export function checkLink(
  link: string,
  opts: { httpsOnly?: boolean } = {},
): { url: string } | { error: string } {
  try {
    let rest = link;
    let scheme: "tg" | "ton" | undefined;
    if (/^tg:/i.test(rest)) {
      scheme = "tg";
      rest = rest.slice(3);
    } else if (/^ton:/i.test(rest)) {
      scheme = "ton";
      rest = rest.slice(4);
    }
    if (scheme && rest.startsWith("//")) rest = rest.slice(2);
    const parsed = parseUrl(rest);
    if (opts.httpsOnly && (parsed.protocol !== "https" || scheme)) {
      return { error: "Only HTTPS links are allowed" };
    }
    if (scheme) {
      if (
        /^http:\/\//i.test(rest) ||
        parsed.protocol === "https" ||
        parsed.userinfo !== "" ||
        parsed.port !== 0 ||
        parsed.isIpv6
      ) {
        return { error: scheme === "tg" ? "Wrong tg URL" : "Wrong ton URL" };
      }
      if (!/^[A-Za-z0-9_-]+$/.test(parsed.host)) {
        return { error: `Unallowed characters in ${scheme} URL host` };
      }
      let query = parsed.url.slice(parsed.url.indexOf(parsed.host) + parsed.host.length);
      if (query.length > 1 && query[1] === "?") query = query.slice(1);
      return { url: `${scheme}://${parsed.host}${query}` };
    }
    if (!parsed.host.includes(".") && !parsed.isIpv6) return { error: "Wrong HTTP URL" };
    return { url: parsed.url };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** UTF-8 byte length of a string. */
export const byteLength = (s: string) => enc.encode(s).length;
