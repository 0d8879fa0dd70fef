/** Progress as the long steps show it: one message edited in place, a bar, an ETA, a wait's end. */
import type { Reply } from "../../chat/conversation.js";

const BAR = 10;

/** A progress line that replaces the previous one with the same key where the channel can. */
export const progressReply = (key: string, text: string): Reply => ({
  kind: "progress",
  key,
  text: [text],
});

/** ▓▓▓▓▓▓░░░░ */
export function bar(done: number, total: number): string {
  const filled = total === 0 ? BAR : Math.min(BAR, Math.round((done / total) * BAR));
  return "▓".repeat(filled) + "░".repeat(BAR - filled);
}

export function eta(ms: number): string {
  const min = Math.ceil(ms / 60_000);
  return min <= 1
    ? "about a minute left"
    : min < 90
      ? `about ${min} min left`
      : `about ${Math.round(min / 60)} h left`;
}

/** A server's rate limit holds the work until `until`. */
export const waitingText = (host: string, until: number): string =>
  `Waiting for ${host}'s rate limit; continuing at ${new Date(until).toISOString().slice(11, 16)} UTC.`;
