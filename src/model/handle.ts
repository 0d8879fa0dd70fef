/**
 * Handles, in one place: reading one a person or a file wrote (with the reason
 * when it isn't one), the form two handles are compared in, their parts, and how
 * they are shown. A handle here is `user@domain` without the leading `@`; it is
 * shown as `@user@domain`. Mastodon compares accts case-insensitively
 * (Account.find_remote uses LOWER(username) and LOWER(domain)), and so do we.
 */
import { z } from "zod";

/** A handle as written, without spaces and the leading `@` (micro.blog's API and exports want it so). */
export const bareHandle = (acct: string): string => acct.trim().replace(/^@/, "");

/** The form two handles are compared in: bare and lower case. */
export const normalHandle = (acct: string): string => bareHandle(acct).toLowerCase();

export const sameHandle = (a: string, b: string): boolean => normalHandle(a) === normalHandle(b);

/** `ada` on the account's own server is `ada@hachyderm.io` everywhere else (exports, reports). */
export function withDomain(acct: string, localDomain: string): string {
  const bare = bareHandle(acct);
  return bare.includes("@") ? bare : `${bare}@${localDomain}`;
}

/** The domain of a handle, lower case; an acct without one is on `localDomain`. */
export function domainOf(acct: string, localDomain = ""): string {
  const at = acct.lastIndexOf("@");
  return at > 0 ? acct.slice(at + 1).toLowerCase() : localDomain.toLowerCase();
}

/** The split handle (`user`, lower-case `host`); throws a RangeError saying what is wrong. */
export function splitHandle(handle: string): { user: string; host: string } {
  const parsed = parseAccountAddress(handle);
  if (!parsed.ok) throw new RangeError(parsed.reason);
  const at = parsed.acct.lastIndexOf("@");
  return { user: parsed.acct.slice(0, at), host: parsed.acct.slice(at + 1) };
}

/** `user@host` as a server would name it: checked, the host lower case; throws a RangeError if not a handle. */
export function canonicalHandle(handle: string): string {
  const { user, host } = splitHandle(handle);
  return `${user}@${host}`;
}

/** How a handle is written to a person: `@ada@example.social`. */
export const showHandle = (handle: string): string => `@${bareHandle(handle)}`;

/*
 * One "Account address" cell → a handle (`user@domain`), or the reason it isn't
 * one, worded so the user can fix the line themselves. Follows Mastodon's import
 * converter first (strip spaces and one leading `@`), then insists on a server:
 * a bare name can't be followed from anywhere else, and the new server would
 * only fail on it later, one row at a time.
 */

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
