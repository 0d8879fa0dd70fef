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

/** Plain text, for terminals, logs and tests. Links show their address. */
export function plain(text: Text): string {
  return text
    .map((p) => {
      if (typeof p === "string") return p;
      if ("b" in p) return p.b;
      if ("code" in p) return p.code;
      if ("i" in p) return p.i;
      return p.link === p.href ? p.href : `${p.link} (${p.href})`;
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
      if (typeof p === "string") return escapeHtml(p);
      if ("b" in p) return `<b>${escapeHtml(p.b)}</b>`;
      if ("code" in p) return `<code>${escapeHtml(p.code)}</code>`;
      if ("i" in p) return `<i>${escapeHtml(p.i)}</i>`;
      return `<a href="${escapeHtml(p.href)}">${escapeHtml(p.link)}</a>`;
    })
    .join("");
}

/** Numbers the way people read them: 1,093 not 1093. */
export const n = (value: number): string => value.toLocaleString("en-US");

/** "1 account", "2 accounts", "1,093 followers". */
export const count = (value: number, one: string, many = `${one}s`): string =>
  `${n(value)} ${value === 1 ? one : many}`;
