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
 * Each answer is then read the way a Mastodon server will read it when it meets
 * the account (the Move, the alias check): the actor's preferredUsername at its
 * id's host, WebFingered, followed once to the subject it names, and looping back
 * to the same actor (ActivityPub::FetchRemoteActorService#check_webfinger!). So a
 * former username that still answers names the current one.
 *
 * One handle seen, and every place asked answered: that is it. Anything else —
 * none seen (a name chosen apart from the username), two, a place that didn't
 * answer — is for the user to confirm.
 */
import { canonicalHandle, sameHandle, splitHandle } from "../model/handle.js";
import { RemoteError } from "../net/errors.js";
import { sameActor } from "./alias-check.js";
import type { Actor, FediverseClient } from "./fediverse.js";
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

/** What WebFinger says of a handle: nothing, or the name a Mastodon server would know it by. */
type Resolved = { kind: "none" } | { kind: "seen"; handle: string; actor: Actor | null };

async function resolve(fediverse: FediverseClient, handle: string): Promise<Resolved> {
  const wf = await fediverse.webfinger(handle);
  if (!wf) return { kind: "none" };
  const named = handleOfSubject(wf.subject) ?? canonicalHandle(handle);
  if (!wf.actor) return { kind: "seen", handle: named, actor: null };
  const actor = await fediverse.actor(wf.actor);
  return { kind: "seen", handle: (await nameOfActor(fediverse, actor)) ?? named, actor };
}

/**
 * The handle Mastodon gives an actor: preferredUsername at the id's host, WebFingered; a
 * subject that names another handle is followed once; the self link must loop back to the
 * actor. Null when it doesn't hold.
 */
async function nameOfActor(fediverse: FediverseClient, actor: Actor): Promise<string | null> {
  if (!actor.preferredUsername) return null;
  let first: string;
  try {
    first = canonicalHandle(`${actor.preferredUsername}@${new URL(actor.id).host}`);
  } catch {
    return null;
  }
  let wf = await fediverse.webfinger(first);
  let confirmed = wf && handleOfSubject(wf.subject);
  if (wf && confirmed && !sameHandle(confirmed, first)) {
    wf = await fediverse.webfinger(confirmed);
    const again = wf && handleOfSubject(wf.subject);
    if (!again || !sameHandle(again, confirmed)) confirmed = null;
  }
  return wf?.actor && confirmed && sameActor(wf.actor, actor.id) ? confirmed : null;
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
        const found = await resolve(fediverse, guess);
        return found.kind === "none" ? found : { kind: "seen" as const, handle: found.handle };
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
    const found = await resolve(fediverse, asked);
    if (found.kind === "none") return { kind: "no-account", handle: asked };
    const served = microblogUsernameOf(found.actor?.followers, microblogDomain) !== null;
    return served
      ? { kind: "ok", handle: found.handle }
      : { kind: "not-microblog", handle: found.handle };
  } catch (err) {
    if (!(err instanceof RemoteError)) throw err;
    return { kind: "unreachable", handle: asked, error: err };
  }
}
