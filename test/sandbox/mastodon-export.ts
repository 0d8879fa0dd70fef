/**
 * What Mastodon's own "Export → Follows" would give for an account in the
 * stand-in, written from export.rb's rules (not from fedimove's writer), so a
 * test can compare the bot's file with the server's byte for byte.
 */
import type { FollowRecord } from "./mastodon.js";

/** Ruby's CSV quotes a field only when it holds the separator, a quote or a line break. */
function rubyField(value: string | null): string {
  if (value === null) return "";
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function mastodonFollowingCsv(
  follows: readonly FollowRecord[],
  localDomain: string,
): string {
  const rows = [...follows]
    .filter((f) => !f.requested)
    .sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1))
    .map((f) =>
      [
        rubyField(f.targetAcct.includes("@") ? f.targetAcct : `${f.targetAcct}@${localDomain}`),
        String(f.showReblogs),
        String(f.notify),
        rubyField(f.languages?.length ? f.languages.join(", ") : null),
      ].join(","),
    );
  return `${["Account address,Show boosts,Notify on new posts,Languages", ...rows].join("\n")}\n`;
}
