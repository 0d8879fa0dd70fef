/**
 * Text the bot says, built from parts rather than markup strings, so each
 * transport renders it safely: escaped HTML on Telegram, plain text elsewhere.
 * A user's or a server's string can never become markup by accident.
 */
export type TextPart =
  | string
  | { readonly b: string }
  | { readonly code: string }
  | { readonly i: string }
  | { readonly link: string; readonly href: string };

export type Text = readonly TextPart[];

export const b = (s: string | number): TextPart => ({ b: String(s) });
export const code = (s: string): TextPart => ({ code: s });
export const i = (s: string): TextPart => ({ i: s });
export const link = (label: string, href: string): TextPart => ({ link: label, href });

/** The most of a string from elsewhere a message shows: a long domain is 60 characters. */
export const REMOTE_MAX = 120;
/** A server's own error text may say a sentence or two; past that it is noise. */
export const REMOTE_TEXT_MAX = 300;

/**
 * A string from elsewhere (a server's domain, a display name, a handle, a server's error text),
 * as a message may show it: at most `max` characters, the start and the end with "…" between
 * (both ends tell which server or account it was). Code points are kept whole.
 */
export function elide(s: string, max = REMOTE_MAX): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  const head = Math.ceil((max - 1) / 2);
  return `${chars.slice(0, head).join("")}…${chars.slice(chars.length - (max - 1 - head)).join("")}`;
}

/**
 * Every run of non-space characters in a part elided to REMOTE_MAX: no sentence of the bot's has
 * a word that long, so only a string from elsewhere can (a 5,000-character domain in a handle),
 * and no message is refused for it. Addresses behind links are never shortened.
 */
const LONG_WORD = new RegExp(`\\S{${REMOTE_MAX + 1},}`, "gu");
const capped = (s: string): string =>
  s.length > REMOTE_MAX ? s.replace(LONG_WORD, (w) => elide(w)) : s;

/** Plain text, for terminals, logs and tests. Links show their address. */
export function plain(text: Text): string {
  return text
    .map((p) => {
      if (typeof p === "string") return capped(p);
      if ("b" in p) return capped(p.b);
      if ("code" in p) return capped(p.code);
      if ("i" in p) return capped(p.i);
      return p.link === p.href ? p.href : `${capped(p.link)} (${p.href})`;
    })
    .join("");
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
};
export const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => HTML_ESCAPES[c]!);

/** Telegram's HTML dialect: only b, i, code and a, every string escaped. */
export function html(text: Text): string {
  return text
    .map((p) => {
      if (typeof p === "string") return escapeHtml(capped(p));
      if ("b" in p) return `<b>${escapeHtml(capped(p.b))}</b>`;
      if ("code" in p) return `<code>${escapeHtml(capped(p.code))}</code>`;
      if ("i" in p) return `<i>${escapeHtml(capped(p.i))}</i>`;
      return `<a href="${escapeHtml(p.href)}">${escapeHtml(capped(p.link))}</a>`;
    })
    .join("");
}

/** Numbers the way people read them: 1,093 not 1093. */
export const n = (value: number): string => value.toLocaleString("en-US");

/** "1 account", "2 accounts", "1,093 followers". */
export const count = (value: number, one: string, many = `${one}s`): string =>
  `${n(value)} ${value === 1 ? one : many}`;
