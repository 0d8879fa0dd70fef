/**
 * Turns what a user types for "your server" into an origin, or says why not.
 * People write `mastodon.social`, `https://mastodon.social/`, `@ada@hachyderm.io`
 * or paste their profile URL; all of those are fine.
 */
import { isIP } from "node:net";
import { isPublicAddress } from "../net/net-guard.js";

export type InstanceParse =
  | { ok: true; origin: string; host: string }
  | { ok: false; reason: string };

const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/i;

export function parseInstance(input: string, allowPrivate: boolean): InstanceParse {
  let text = input.trim();
  if (text.length === 0) return { ok: false, reason: "That was empty." };
  if (text.length > 300 || /\s/.test(text)) {
    return { ok: false, reason: "That doesn't look like a server name." };
  }
  // @user@host or user@host: the server is after the last @.
  const handle = /^@?[\w.-]+@([^@/\s]+)$/.exec(text);
  if (handle) text = handle[1]!;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `https://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: "That doesn't look like a server name." };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { ok: false, reason: "Only https:// addresses work here." };
  }
  if (url.protocol === "http:" && !allowPrivate) {
    return { ok: false, reason: "I only connect over https://, to keep your account safe." };
  }
  if (url.username || url.password)
    return { ok: false, reason: "Leave the user name out of the address." };
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (isIP(host)) {
    if (!allowPrivate && !isPublicAddress(host)) {
      return {
        ok: false,
        reason: "That's a private network address; I can only reach public servers.",
      };
    }
  } else if (!HOSTNAME.test(host)) {
    if (host === "localhost" && allowPrivate) {
      // fine: the operator allows local servers
    } else {
      return { ok: false, reason: "That doesn't look like a server name." };
    }
  }
  return { ok: true, origin: url.origin, host: url.host };
}
