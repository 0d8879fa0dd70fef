/**
 * What Mastodon does with the text of a status it is given: which `@user@domain` mentions it
 * finds (Account::MENTION_RE), how it counts the length against the limit
 * (app/validators/status_length_validator.rb: grapheme clusters over spoiler_text + text,
 * every URL counted as URL_PLACEHOLDER = 23 characters, every mention as `@username` without
 * its domain), and the HTML it stores (TextFormatter: paragraphs, `<br />`, links shortened
 * with invisible spans, h-card mentions).
 *
 * URLs are found by a simpler rule than twitter-text's extractor (a scheme, then anything up
 * to whitespace, without trailing punctuation); mentions by Mastodon's own pattern.
 */

/** StatusLengthValidator::URL_PLACEHOLDER_CHARS */
export const URL_PLACEHOLDER_CHARS = 23;

/** Account::USERNAME_RE and MENTION_RE: not after `=`, `/` or a word character. */
const MENTION =
  /(?<![=/\p{L}\p{N}_])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@([\p{L}\p{N}_]+(?:[.-]+[\p{L}\p{N}_]+)*(?::\d+)?))?/giu;
const URL = /https?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?)'"\]]+$/;

export interface Entity {
  kind: "url" | "mention";
  start: number;
  end: number;
  /** The URL, or the mention's username and domain (null: this server). */
  url?: string;
  username?: string;
  domain?: string | null;
}

/** URLs and mentions in order, overlaps removed (Extractor.remove_overlapping_entities). */
export function entities(text: string): Entity[] {
  const found: Entity[] = [];
  for (const m of text.matchAll(URL)) {
    const url = m[0].replace(TRAILING, "");
    found.push({ kind: "url", start: m.index, end: m.index + url.length, url });
  }
  for (const m of text.matchAll(MENTION)) {
    found.push({
      kind: "mention",
      start: m.index,
      end: m.index + m[0].length,
      username: m[1]!,
      domain: m[2] ?? null,
    });
  }
  found.sort((a, b) => a.start - b.start);
  const out: Entity[] = [];
  for (const e of found) if (!out.some((o) => e.start < o.end && o.start < e.end)) out.push(e);
  return out;
}

const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

/** StatusLengthValidator#countable_length of [spoiler_text, countable_text(text)].join */
export function countableLength(text: string, spoilerText = ""): number {
  let countable = "";
  let at = 0;
  for (const e of entities(text)) {
    countable += text.slice(at, e.start);
    countable += e.kind === "url" ? "x".repeat(URL_PLACEHOLDER_CHARS) : `@${e.username}`;
    at = e.end;
  }
  countable += text.slice(at);
  return [...segmenter.segment(spoilerText + countable)].length;
}

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]};`,
  );

/** TextFormatter#link_to_url: the scheme and the part past 30 characters are invisible. */
function linkHtml(url: string): string {
  const m = /^(https?:\/\/(?:www\.)?)(.*)$/i.exec(url)!;
  const prefix = m[1]!;
  const rest = m[2]!;
  const display = rest.slice(0, 30);
  const hidden = rest.slice(30);
  return `<a href="${escapeHtml(url)}" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">${escapeHtml(prefix)}</span><span class="${hidden ? "ellipsis" : ""}">${escapeHtml(display)}</span><span class="invisible">${escapeHtml(hidden)}</span></a>`;
}

/** The h-card Mastodon writes for a mention it resolved. */
export function mentionHtml(username: string, profileUrl: string): string {
  return `<span class="h-card" translate="no"><a href="${escapeHtml(profileUrl)}" class="u-url mention">@<span>${escapeHtml(username)}</span></a></span>`;
}

/**
 * TextFormatter: paragraphs on blank lines, `<br />` on single newlines, links shortened,
 * resolved mentions as h-cards (`profileOf` gives the profile URL, or null for a mention
 * that names nobody known: it stays text).
 */
export function formatStatus(
  text: string,
  profileOf: (username: string, domain: string | null) => string | null,
): string {
  let html = "";
  let at = 0;
  for (const e of entities(text)) {
    html += escapeHtml(text.slice(at, e.start));
    const raw = text.slice(e.start, e.end);
    if (e.kind === "url") html += linkHtml(e.url!);
    else {
      const profile = profileOf(e.username!, e.domain ?? null);
      html += profile ? mentionHtml(e.username!, profile) : escapeHtml(raw);
    }
    at = e.end;
  }
  html += escapeHtml(text.slice(at));
  const paragraphs = html
    .replace(/\r\n?/g, "\n")
    .split(/\n{2,}/)
    .map((p) => p.replace(/\n/g, "<br />"));
  return paragraphs.map((p) => `<p>${p}</p>`).join("");
}
