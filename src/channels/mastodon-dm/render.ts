/**
 * Our replies as a direct message reads them: plain text with links written out as URLs
 * (Mastodon links them itself), buttons as numbered options, files as one-time links where
 * the bot has a web side, or a line saying what would have come. A turn's replies go out as
 * one message (cut into a chain when long), so one answer costs as few posts as it can.
 */
import type { Choice, Reply } from "../../chat/conversation.js";
import { plain } from "../../chat/text.js";

export interface FileLinks {
  /** A one-time link to the file, bound to the person, or null without a web side. */
  link(name: string, bytes: Uint8Array): Promise<{ url: string; hours: number } | null>;
}

export interface Rendered {
  text: string;
  /** The numbered options shown last, if any. */
  choices?: readonly Choice[];
}

/**
 * A handle in our text (`@ada@mb.example`) would be a mention to Mastodon, and a direct
 * message reaches everyone it mentions: a zero-width space after the `@` keeps it text, so
 * each answer reaches only the person it answers. Mastodon's own pattern decides what it
 * would take for a mention (Account::MENTION_RE: an `@` not after a word character, `/` or `=`).
 */
export function quietMentions(text: string): string {
  return text.replace(/(?<![=/\p{L}\p{N}_])@(?=[a-z0-9_])/giu, "@\u200B");
}

/** "Reply with a number or the words:\n1 · Let's go\n2 · What changes exactly?" */
export function numbered(choices: readonly Choice[]): string {
  return `Reply with a number or the words:\n${choices.map((c, k) => `${k + 1} · ${c.label}`).join("\n")}`;
}

export async function render(replies: readonly Reply[], files: FileLinks): Promise<Rendered> {
  const blocks: string[] = [];
  let choices: readonly Choice[] | undefined;
  for (const reply of replies) {
    if (reply.kind === "say") {
      let text = plain(reply.text);
      for (const l of reply.links ?? []) text += `\n${l.label}: ${l.url}`;
      if (reply.choices?.length) {
        choices = reply.choices;
        text += `\n\n${numbered(reply.choices)}`;
      }
      blocks.push(text);
    } else if (reply.kind === "file") {
      const caption = reply.caption ? ` — ${plain(reply.caption)}` : "";
      const link = await files.link(reply.name, reply.bytes);
      blocks.push(
        link
          ? `📎 ${reply.name}${caption}\n${link.url}\n(The link works once, for ${link.hours} hours.)`
          : `📎 ${reply.name}${caption}\n(A direct message can't carry a file, and this bot has no web page to fetch it from, so it isn't sent here.)`,
      );
    } else {
      blocks.push(`… ${plain(reply.text)}`);
    }
  }
  return { text: blocks.join("\n\n"), ...(choices ? { choices } : {}) };
}
