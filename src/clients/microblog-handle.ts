/**
 * A micro.blog account's Fediverse username, which the alias, the Move and the
 * checks around them need. It is `@username@micro.blog` by default, but it can be
 * chosen, and live on the blog's own domain (`@name@example.com`; manton.org
 * 2022-10-10 "Big improvements to ActivityPub"). Nothing in micro.blog's JSON API
 * names it (/account/verify gives `username` and `default_site`, the blog's host),
 * so it is asked of WebFinger, where micro.blog answers for its users on its own
 * domain and on their blogs' (gabek/fedidocs captures of @manton@manton.org):
 * `username@<the blog's domain>`, then `username@micro.blog`.
 *
 * One handle seen, and every place asked answered: that is it. Anything else —
 * none seen (a name chosen apart from the username), two (a former one still
 * answering), a place that didn't answer — is for the user to confirm.
 */
import { canonicalHandle, splitHandle } from "../model/handle.js";
import { RemoteError } from "../net/errors.js";
import type { FediverseClient } from "./fediverse.js";
import { microblogUsernameOf } from "./microblog-names.js";

/** What /account/verify said about the account. */
export interface MicroblogIdentity {
  username: string;
  /** The blog's host: username.micro.blog, or its own domain. */
  defaultSite?: string;
}

export type HandleFinding =
  | { kind: "found"; handle: string }
  /** Not clear: the handles to offer (seen, then not checkable just now), best first; maybe none. */
  | { kind: "unsure"; offers: string[] };

/** What a handle the user gave turned out to be. */
export type HandleCheck =
  | { kind: "ok"; handle: string }
  | { kind: "no-account"; handle: string }
  /** It exists, but micro.blog doesn't serve it. */
  | { kind: "not-microblog"; handle: string }
  | { kind: "unreachable"; handle: string; error: RemoteError };

/** The blog's own domain, if it has one (not username.micro.blog). */
function ownDomain(site: string | undefined, microblogDomain: string): string | null {
  if (!site) return null;
  let host: string;
  try {
    host = new URL(/^https?:\/\//i.test(site) ? site : `https://${site}`).hostname.toLowerCase();
  } catch {
    return null;
  }
  const domain = microblogDomain.toLowerCase();
  if (host === domain || host.endsWith(`.${domain}`) || host.endsWith(".micro.blog")) return null;
  return host;
}

/** `acct:name@host` → name@host, checked; null when the subject isn't one. */
function handleOfSubject(subject: string): string | null {
  try {
    return canonicalHandle(subject.replace(/^acct:/i, ""));
  } catch {
    return null;
  }
}

/** The places micro.blog may answer for the account, most specific first. */
export function guessedHandles(who: MicroblogIdentity, microblogDomain: string): string[] {
  const user = who.username.toLowerCase();
  const own = ownDomain(who.defaultSite, microblogDomain);
  const guesses = [...(own ? [`${user}@${own}`] : []), `${user}@${microblogDomain.toLowerCase()}`];
  return guesses.filter((g) => {
    try {
      splitHandle(g);
      return true;
    } catch {
      return false;
    }
  });
}

export async function findFediverseHandle(
  fediverse: FediverseClient,
  who: MicroblogIdentity,
  microblogDomain: string,
): Promise<HandleFinding> {
  const guesses = guessedHandles(who, microblogDomain);
  const answers = await Promise.all(
    guesses.map(async (guess) => {
      try {
        const wf = await fediverse.webfinger(guess);
        if (!wf) return { kind: "none" as const };
        return { kind: "seen" as const, handle: handleOfSubject(wf.subject) ?? guess };
      } catch (err) {
        if (!(err instanceof RemoteError)) throw err;
        return { kind: "unknown" as const, handle: guess };
      }
    }),
  );
  const seen = [...new Set(answers.flatMap((a) => (a.kind === "seen" ? [a.handle] : [])))];
  const unknown = answers.flatMap((a) => (a.kind === "unknown" ? [a.handle] : []));
  if (seen.length === 1 && unknown.length === 0) return { kind: "found", handle: seen[0]! };
  return { kind: "unsure", offers: [...new Set([...seen, ...unknown])] };
}

/**
 * A handle the user says is theirs: does WebFinger know it, under which name, and is it
 * served by micro.blog (its actor's collections on micro.blog's origin)?
 */
export async function checkGivenHandle(
  fediverse: FediverseClient,
  handle: string,
  microblogDomain: string,
): Promise<HandleCheck> {
  const asked = canonicalHandle(handle);
  try {
    const wf = await fediverse.webfinger(asked);
    if (!wf) return { kind: "no-account", handle: asked };
    const named = handleOfSubject(wf.subject) ?? asked;
    const actor = wf.actor ? await fediverse.actor(wf.actor) : null;
    const served = microblogUsernameOf(actor?.followers, microblogDomain) !== null;
    return served ? { kind: "ok", handle: named } : { kind: "not-microblog", handle: named };
  } catch (err) {
    if (!(err instanceof RemoteError)) throw err;
    return { kind: "unreachable", handle: asked, error: err };
  }
}
