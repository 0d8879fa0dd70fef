/**
 * One "Account address" cell → a handle (`user@domain`), or the reason it isn't
 * one, worded so the user can fix the line themselves. Follows Mastodon's import
 * converter first (strip spaces and one leading `@`), then insists on a server:
 * a bare name can't be followed from anywhere else, and the new server would
 * only fail on it later, one row at a time.
 */
import { z } from "zod";

export type AddressResult = { ok: true; acct: string } | { ok: false; reason: string };

/** Remote usernames: Mastodon's letters, digits and `_`, plus `.` and `-` used by Pleroma and others. */
const USER = /^[A-Za-z0-9_.-]+$/;
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;
const EXAMPLE = "bob@example.social";

/** A DNS name with at least two labels and a top-level label that isn't a number. */
export function isHostname(s: string): boolean {
  if (s.length > 253) return false;
  const labels = s.split(".");
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) && /\p{L}/u.test(labels.at(-1)!);
}

export function parseAccountAddress(cell: string): AddressResult {
  const shown = quoted(cell.trim());
  const value = cell.trim().replace(/^@/, "");
  if (value === "") return { ok: false, reason: "the account address is empty" };
  if (/^https?:\/\//i.test(value)) return fromProfileUrl(value, shown);

  const at = value.indexOf("@");
  if (at === -1) {
    if (isHostname(value)) {
      return {
        ok: false,
        reason: `${shown} is a server, not an account — write it as name@${value}`,
      };
    }
    if (USER.test(value)) return noServer(value, shown);
    return notAHandle(shown);
  }
  const user = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (domain === "" && USER.test(user)) return noServer(user, shown);
  const port = /^(.*):\d+$/.exec(domain);
  if (port && USER.test(user) && isHostname(port[1]!)) {
    return {
      ok: false,
      reason: `${shown} has a port number, which handles never have — write it as ${user}@${port[1]}`,
    };
  }
  if (!USER.test(user) || !isHostname(domain)) return notAHandle(shown);
  return { ok: true, acct: `${user}@${domain.toLowerCase()}` };
}

/**
 * https://host/@user, or https://host/@user@their.server as Mastodon shows
 * people from other servers. The web host stands in for the handle's domain,
 * which can differ (WEB_DOMAIN vs LOCAL_DOMAIN); WebFinger on the web host
 * still finds the account.
 */
function fromProfileUrl(value: string, shown: string): AddressResult {
  const notProfile: AddressResult = {
    ok: false,
    reason: `${shown} isn't a profile link like https://example.social/@bob`,
  };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return notProfile;
  }
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return notProfile;
  }
  const m = /^\/@([^/@]+)(?:@([^/@]+))?\/?$/.exec(path);
  if (!m || url.port !== "") return notProfile;
  const user = m[1]!;
  const domain = (m[2] ?? url.hostname).toLowerCase();
  if (!USER.test(user) || !isHostname(domain)) return notProfile;
  return { ok: true, acct: `${user}@${domain}` };
}

function noServer(user: string, shown: string): AddressResult {
  return { ok: false, reason: `${shown} has no server — write it as ${user}@example.social` };
}

function notAHandle(shown: string): AddressResult {
  return { ok: false, reason: `${shown} isn't a handle like ${EXAMPLE}` };
}

/** The user's own text in quotes, cut short so one silly cell can't flood the chat. */
export function quoted(s: string): string {
  return `"${s.length > 60 ? `${s.slice(0, 59)}…` : s}"`;
}

/** The same check as a zod schema, for row schemas: the reason becomes the issue message. */
export const AccountAddress = z.string().transform((cell, ctx) => {
  const r = parseAccountAddress(cell);
  if (r.ok) return r.acct;
  ctx.addIssue({ code: "custom", message: r.reason });
  return z.NEVER;
});
