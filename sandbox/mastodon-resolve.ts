/**
 * How the Mastodon stand-in learns about remote actors it doesn't know: ResolveAccountService
 * over HTTP (WebFinger, the `self` link's actor, the totalItems of its collections), with
 * `https://HOST/…` fetched from wherever `originOf(host)` says (by default only loopback
 * hosts: no real network).
 */

import { z } from "zod";
import { acctParts } from "./mastodon-rows.js";

/** What a resolver learns about a remote actor (WebFinger + the actor document). */
export interface ResolvedActor {
  /** The actor id (ActivityPub URI). */
  id: string;
  /** user@host as WebFinger's subject gives it. Default: the acct that was asked for. */
  acct?: string;
  alsoKnownAs: string[];
  /** manuallyApprovesFollowers */
  locked?: boolean;
  /** The actor's movedTo (a URI), or an acct. */
  movedTo?: string | null;
  displayName?: string;
  bot?: boolean;
  /** The profile page. */
  url?: string;
  /** totalItems of the followers / following collections. */
  followersCount?: number;
  followingCount?: number;
}

/** Resolve `user@host` (no leading @) to its actor, or null when it can't be found. */
export type ResolveActor = (acct: string) => Promise<ResolvedActor | null>;

/** The origin (scheme://host:port) to fetch `https://HOST/…` from; null/undefined: unreachable. */
export type OriginOf = (host: string) => string | null | undefined;

const JrdSchema = z.object({
  subject: z.string().optional(),
  links: z
    .array(z.object({ rel: z.string(), type: z.string().optional(), href: z.string().optional() }))
    .default([]),
});
const ActorSchema = z.object({
  id: z.string(),
  type: z.string().optional(),
  preferredUsername: z.string().optional(),
  name: z.string().nullish(),
  url: z.union([z.string(), z.object({ href: z.string() })]).nullish(),
  manuallyApprovesFollowers: z.boolean().nullish(),
  alsoKnownAs: z.union([z.string(), z.array(z.string())]).nullish(),
  movedTo: z.string().nullish(),
  followers: z.string().nullish(),
  following: z.string().nullish(),
});
const CollectionSchema = z.object({ totalItems: z.number().int().min(0) });

const FETCH_TIMEOUT_MS = 5_000;
const AP_ACCEPT =
  'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"';

/** Loopback hosts are fetched over http; anything else is unreachable (no real network). */
export function loopbackOriginOf(host: string): string | null {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i.test(host) ? `http://${host}` : null;
}

async function fetchJson(url: string, accept: string): Promise<unknown> {
  try {
    const res = await fetch(url, {
      headers: { Accept: accept },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (!res.ok) return null;
    return await res.json();
  } catch {
    return null;
  }
}

/** `https://host/path` fetched from originOf(host). */
function mapped(originOf: OriginOf, uri: string): string | null {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return null;
  }
  const origin = originOf(u.host);
  return origin ? `${origin.replace(/\/+$/, "")}${u.pathname}${u.search}` : null;
}

/**
 * ResolveAccountService over HTTP: WebFinger at originOf(host), the `self` link's actor,
 * and the totalItems of its followers/following collections.
 */
export function httpResolveActor(originOf: OriginOf): ResolveActor {
  return async (acct) => {
    const { username, domain } = acctParts(acct);
    if (!domain) return null;
    const wfUrl = mapped(
      originOf,
      `https://${domain}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${username}@${domain}`)}`,
    );
    if (!wfUrl) return null;
    const jrd = JrdSchema.safeParse(await fetchJson(wfUrl, "application/jrd+json"));
    if (!jrd.success) return null;
    const self = jrd.data.links.find(
      (l) =>
        l.rel === "self" &&
        l.href !== undefined &&
        /^application\/(activity\+json|ld\+json)/.test(l.type ?? ""),
    );
    const actorUrl = self?.href ? mapped(originOf, self.href) : null;
    if (!actorUrl) return null;
    const actor = ActorSchema.safeParse(await fetchJson(actorUrl, AP_ACCEPT));
    if (!actor.success) return null;
    const a = actor.data;
    const total = async (uri: string | null | undefined): Promise<number | undefined> => {
      const url = uri ? mapped(originOf, uri) : null;
      if (!url) return undefined;
      const c = CollectionSchema.safeParse(await fetchJson(url, AP_ACCEPT));
      return c.success ? c.data.totalItems : undefined;
    };
    const subject = jrd.data.subject?.replace(/^acct:/, "");
    const aka = a.alsoKnownAs ?? [];
    const out: ResolvedActor = {
      id: a.id,
      acct: subject?.includes("@") ? subject : `${username}@${domain}`,
      alsoKnownAs: typeof aka === "string" ? [aka] : aka,
      locked: a.manuallyApprovesFollowers ?? false,
      movedTo: a.movedTo ?? null,
      displayName: a.name ?? "",
      bot: a.type === "Service" || a.type === "Application",
    };
    const url = typeof a.url === "string" ? a.url : a.url?.href;
    if (url) out.url = url;
    const followers = await total(a.followers);
    if (followers !== undefined) out.followersCount = followers;
    const following = await total(a.following);
    if (following !== undefined) out.followingCount = following;
    return out;
  };
}
