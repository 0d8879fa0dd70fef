/**
 * Mastodon's character count and a long text cut to fit it: grapheme clusters, every URL as
 * characters_reserved_per_url (23), every mention as `@username` without its domain
 * (app/validators/status_length_validator.rb), against the server's own max_characters.
 * A long reply becomes a chain: cut at paragraphs, then lines, then words, never inside a URL,
 * each part numbered "(k/n)".
 */

const URL = /https?:\/\/[^\s<>"]+/gi;
const MENTION =
  /(?<![=/\p{L}\p{N}_])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\p{L}\p{N}_]+(?:[.-]+[\p{L}\p{N}_]+)*(?::\d+)?)?/giu;
const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

export interface Rules {
  maxCharacters: number;
  charactersPerUrl: number;
}

/** How long Mastodon counts `text`. */
export function countLength(text: string, rules: Rules): number {
  const urlPlaceholder = "x".repeat(rules.charactersPerUrl);
  const countable = text
    .replace(URL, (u) => {
      const trail = /[.,;:!?)'"\]]+$/.exec(u)?.[0] ?? "";
      return urlPlaceholder + trail;
    })
    .replace(MENTION, (_m, user: string) => `@${user}`);
  return [...segmenter.segment(countable)].length;
}

/** Splits into pieces that fit when each is sent as `prefix + piece + " (k/n)"`. */
export function splitToFit(text: string, prefix: string, rules: Rules): string[] {
  const whole = text.trim();
  if (countLength(prefix + whole, rules) <= rules.maxCharacters) return [whole];
  // Room for the numbering: " (99/99)".
  const budget = rules.maxCharacters - countLength(prefix, rules) - 8;
  if (budget < 20) throw new Error("the server's character limit is too small to answer in");
  const parts: string[] = [];
  let current = "";
  const fits = (s: string) => countLength(s, rules) <= budget;
  const push = () => {
    if (current.trim()) parts.push(current.trim());
    current = "";
  };
  for (const token of whole.split(/(\n\n|\n| )/)) {
    if (fits(current + token)) {
      current += token;
      continue;
    }
    push();
    if (token === "\n\n" || token === "\n" || token === " ") continue;
    if (fits(token)) {
      current = token;
      continue;
    }
    // One word longer than a post (no URL is: it counts 23): cut it by graphemes.
    let piece = "";
    for (const { segment } of segmenter.segment(token)) {
      if (!fits(piece + segment)) {
        parts.push(piece);
        piece = "";
      }
      piece += segment;
    }
    current = piece;
  }
  push();
  return parts.map((p, k) => `${p} (${k + 1}/${parts.length})`);
}
