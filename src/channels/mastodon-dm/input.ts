/**
 * What a person wrote, as the engine's input: a command as a word or a slash ("status",
 * "/status"), an answer to the numbered options by number or by the option's words, or text.
 */
import { type Choice, COMMANDS, type CommandName, type Input } from "../../chat/conversation.js";

export interface Shown {
  list: readonly Choice[];
  seq: number;
}

const normal = (s: string) =>
  s
    .trim()
    .toLowerCase()
    .replace(/^["'“‘]+|["'”’.!]+$/g, "")
    .replace(/\s+/g, " ");

export function toInput(text: string, shown: Shown | undefined): Input {
  const trimmed = text.trim();
  const cmd = /^\/?([a-z_]+)(?:\s+([\s\S]*))?$/i.exec(trimmed);
  if (cmd) {
    const name = cmd[1]!.toLowerCase();
    const isCommand = (COMMANDS as readonly string[]).includes(name);
    // A bare word is a command only on its own ("back", not "back in a minute").
    if (isCommand && (trimmed.startsWith("/") || !cmd[2])) {
      return { kind: "command", name: name as CommandName, args: cmd[2] ?? "" };
    }
    if (trimmed.startsWith("/") && !isCommand && !trimmed.includes(" ")) {
      return { kind: "other", what: `/${name}` };
    }
  }
  if (shown && shown.list.length > 0) {
    const n = /^(\d{1,2})[.)]?$/.exec(trimmed)?.[1];
    const byNumber = n ? shown.list[Number(n) - 1] : undefined;
    const byLabel = shown.list.find((c) => normal(c.label) === normal(trimmed));
    const pick = byNumber ?? byLabel;
    if (pick) return { kind: "choice", id: pick.id, seq: shown.seq };
  }
  return { kind: "text", text: trimmed };
}
