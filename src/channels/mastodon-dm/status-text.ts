/**
 * A status's HTML, as the person wrote it, in plain text: paragraphs and line breaks kept,
 * links whole (Mastodon hides a long URL's scheme and tail in `invisible` spans, which are
 * part of the text), entities decoded, and the mention of the bot itself taken out, so that
 * "@fedimove hachyderm.io" reads as "hachyderm.io".
 */

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith("#x") || name.startsWith("#X"))
      return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(Number(name.slice(1)));
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

const attr = (tag: string, name: string): string | undefined =>
  new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, "i")
    .exec(tag)
    ?.slice(2)
    .find((v) => v !== undefined);

/** The text of a status; links to any of `skipProfiles` (the bot's own) are left out. */
export function statusText(html: string, skipProfiles: readonly string[] = []): string {
  const skip = new Set(skipProfiles.map((u) => decode(u)));
  let out = "";
  let skipping = 0;
  for (const m of html.matchAll(/<[^>]*>|[^<]+/g)) {
    const piece = m[0];
    if (!piece.startsWith("<")) {
      if (skipping === 0) out += decode(piece);
      continue;
    }
    const tag = /^<\/?\s*([a-z0-9]+)/i.exec(piece)?.[1]?.toLowerCase() ?? "";
    const closing = piece.startsWith("</");
    if (tag === "a") {
      if (closing) {
        if (skipping > 0) skipping -= 1;
      } else if (skipping > 0 || skip.has(decode(attr(piece, "href") ?? ""))) {
        skipping += 1;
      }
      continue;
    }
    if (skipping > 0) continue;
    if (tag === "br") out += "\n";
    else if (tag === "p" && closing) out += "\n\n";
  }
  return out
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^[ \t]+/gm, (s) => s.replace(/\t/g, " "))
    .trim();
}
