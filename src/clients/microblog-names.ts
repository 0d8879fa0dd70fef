/**
 * micro.blog's own users go by two names. Its JSON API knows them by their bare
 * username (`bob`): the following list names them so, and clients tell them from
 * Fediverse accounts by the missing `@` (lillihub: `!n.username.includes('@')`).
 * A follows list from Mastodon names them by their Fediverse username instead:
 * `bob@micro.blog`, or a name on their blog's own domain (`hello@bob.example`,
 * manton.org 2022-10-10). Fediverse accounts are `user@host` on both sides.
 *
 * Here the two meet: the name to send micro.blog for a handle from the list, and
 * the list's handles matched against whom micro.blog says the account follows.
 */
import { bareHandle, normalHandle } from "../model/handle.js";
import type { Followed } from "./new-account.js";

/** A user in micro.blog's following list: its name there, and its blog. */
export interface ListedUser {
  username: string;
  url?: string | null;
}

/** The part after the last @, lower case; "" for a bare name. */
function hostPart(handle: string): string {
  const at = handle.lastIndexOf("@");
  return at > 0 ? handle.slice(at + 1).toLowerCase() : "";
}

/** micro.blog's own users have a bare username: no @ (Fediverse) and no dot (a domain or Bluesky). */
export const isMicroblogUsername = (name: string): boolean => !/[@.]/.test(bareHandle(name));

/**
 * The name micro.blog's API takes for a handle from a follows list: `bob@micro.blog` is its
 * user `bob`; anything else goes as written, without the leading @ the apps never send.
 */
export function apiName(acct: string, microblogDomain: string): string {
  const bare = bareHandle(acct);
  const at = bare.lastIndexOf("@");
  if (at > 0 && hostPart(bare) === microblogDomain.toLowerCase()) return bare.slice(0, at);
  return bare;
}

/** Whether a blog's host is micro.blog's own (username.micro.blog), not a domain of its own. */
function onMicroblog(host: string, microblogDomain: string): boolean {
  const domain = microblogDomain.toLowerCase();
  return host === domain || host.endsWith(`.${domain}`) || host.endsWith(".micro.blog");
}

function hostOfUrl(url: string | null | undefined): string {
  if (!url) return "";
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return "";
  }
}

/**
 * Whom micro.blog says the account follows, asked by a follows list's handles: Fediverse
 * accounts by `user@host`; its own users by `username@micro.blog`, or by any name on their
 * blog's own domain (a domain is one blog's, and its Fediverse username is that blog's user's).
 */
export function followedOnMicroblog(
  list: readonly ListedUser[],
  microblogDomain: string,
): Followed {
  const names = new Set<string>();
  const ownDomains = new Set<string>();
  for (const user of list) {
    const name = normalHandle(user.username);
    names.add(name);
    if (!isMicroblogUsername(name)) continue;
    const host = hostOfUrl(user.url);
    if (host && !onMicroblog(host, microblogDomain)) ownDomains.add(host);
  }
  const domain = microblogDomain.toLowerCase();
  return {
    has(acct: string): boolean {
      const handle = normalHandle(acct);
      if (names.has(handle)) return true;
      const host = hostPart(handle);
      if (host === "") return false;
      if (host === domain) return names.has(handle.slice(0, handle.lastIndexOf("@")));
      return ownDomains.has(host);
    },
  };
}

/**
 * The micro.blog username behind an actor micro.blog serves: its collections live on
 * micro.blog's own origin under that name (https://micro.blog/activitypub/manton/followers,
 * with the actor on manton.org: gabek/fedidocs captures). That the path segment is the
 * micro.blog username rather than the chosen Fediverse name is inferred: it has to be unique
 * on micro.blog. Null for an actor micro.blog doesn't serve.
 */
export function microblogUsernameOf(
  collection: string | undefined,
  microblogDomain: string,
): string | null {
  if (!collection) return null;
  let url: URL;
  try {
    url = new URL(collection);
  } catch {
    return null;
  }
  if (url.host.toLowerCase() !== microblogDomain.toLowerCase()) return null;
  const m = /^\/activitypub\/([A-Za-z0-9_]+)\/[a-z]+$/.exec(url.pathname);
  return m ? m[1]! : null;
}
