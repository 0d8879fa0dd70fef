/**
 * The Fediverse side of an account, read without any token: WebFinger turns a
 * handle into an actor URL; the actor (ActivityPub) says which aliases it has,
 * where it moved and whether it holds follows for approval; NodeInfo names the
 * software a server runs, and the table below says whether that software
 * follows a Move.
 *
 * Every URL is fetched through `originOf`, which maps the host a handle or an
 * actor URL names to the origin actually contacted: `https://host` in
 * production, a local stand-in in tests and the demo. Errors name the host the
 * user knows (the one in the handle or the URL), not the one contacted.
 */
import { z } from "zod";
import { splitHandle } from "../model/handle.js";
import { BODY_LIMITS } from "../net/body-limits.js";
import { BadResponseError, RejectedError } from "../net/errors.js";
import type { Http, JsonOptions } from "../net/http.js";
import type { RequestSigner } from "../net/signatures.js";

const AS_PROFILE = "https://www.w3.org/ns/activitystreams";
export const ACTIVITY_ACCEPT = `application/activity+json, application/ld+json; profile="${AS_PROFILE}"`;
const JRD_ACCEPT = "application/jrd+json, application/json";
const NODEINFO = { data: "NodeInfo" };
const WEBFINGER_PATH = "/.well-known/webfinger";
const NODEINFO_2 = /^https?:\/\/nodeinfo\.diaspora\.software\/ns\/schema\/2\.(\d+)$/;
/** The actor types Mastodon accepts as accounts (ResolveAccountService's SUPPORTED_TYPES). */
const ACTOR_TYPES = new Set(["Person", "Service", "Application", "Group", "Organization"]);

export interface WebFinger {
  subject: string;
  /** The ActivityPub actor: the `self` link of type activity+json (or ld+json with the AS profile). */
  actor?: string;
  /** The human profile page (`http://webfinger.net/rel/profile-page`). */
  profile?: string;
}

export interface Actor {
  id: string;
  type: string;
  preferredUsername?: string;
  /** The account's aliases; [] when absent. */
  alsoKnownAs: string[];
  movedTo?: string;
  /** False when absent, as Mastodon treats it (micro.blog never sends it). */
  manuallyApprovesFollowers: boolean;
  followers?: string;
  url?: string;
}

export interface NodeInfo {
  software: { name: string; version: string };
  protocols: string[];
}

function isWebUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}

const WebUrl = z.string().refine(isWebUrl, "not an http(s) URL");
/** A reference that is either a URI or an embedded object with an `id`. */
const Ref = z.union([z.string(), z.object({ id: z.string() }).transform((o) => o.id)]);

const JrdSchema = z.object({
  subject: z.string().optional(),
  links: z
    .array(
      z.object({
        rel: z.string().optional(),
        type: z.string().nullish(),
        href: z.string().nullish(),
      }),
    )
    .nullish(),
});

const ActorSchema = z.object({
  id: WebUrl,
  type: z.string(),
  preferredUsername: z.string().nullish(),
  alsoKnownAs: z.union([z.string(), z.array(z.unknown())]).nullish(),
  movedTo: Ref.nullish(),
  manuallyApprovesFollowers: z.boolean().nullish(),
  followers: Ref.nullish(),
  url: z.unknown().optional(),
});

const NodeInfoLinksSchema = z.object({
  links: z.array(z.object({ rel: z.string(), href: z.string() })),
});

const NodeInfoSchema = z.object({
  software: z.object({ name: z.string(), version: z.string().nullish() }),
  protocols: z
    .union([
      z.array(z.string()),
      // 1.x wrote { inbound, outbound }; tolerate it from servers that mislabel their document.
      z
        .object({
          inbound: z.array(z.string()).optional(),
          outbound: z.array(z.string()).optional(),
        })
        .transform((p) => [...new Set([...(p.inbound ?? []), ...(p.outbound ?? [])])]),
    ])
    .nullish(),
});

/** `type="application/activity+json"` or ld+json with the ActivityStreams profile. */
function isActivityType(type: string | null | undefined): boolean {
  if (!type) return false;
  const [essence, ...params] = type.split(";").map((p) => p.trim());
  const base = essence?.toLowerCase();
  if (base === "application/activity+json") return true;
  if (base !== "application/ld+json") return false;
  return params.some((p) => {
    const m = /^profile\s*=\s*"?([^"]*)"?$/i.exec(p);
    return m?.[1]?.split(/\s+/).includes(AS_PROFILE) ?? false;
  });
}

/** A value that is one item or an array of them, each a string or an object with a string `key`. */
function refs(value: unknown, key: "href" | "id"): string[] {
  if (value == null) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => {
    if (typeof v === "string") return [v];
    const k = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[key] : undefined;
    return typeof k === "string" ? [k] : [];
  });
}

/** `url` may be a string, a Link object or an array of either: the first http(s) one. */
function firstUrl(value: unknown): string | undefined {
  return refs(value, "href").find(isWebUrl);
}

/** `alsoKnownAs`: URIs, or objects with an `id`. */
function aliasesOf(value: unknown): string[] {
  return refs(value, "id").filter((s) => s.length > 0);
}

const CollectionSchema = z.object({
  type: z.string().optional(),
  totalItems: z.number().int().min(0).nullish(),
});

export class FediverseClient {
  /**
   * `signer`: the bot's instance actor (with PUBLIC_URL), so that actors and collections on
   * servers in secure mode answer; without it, reads are unsigned and such a server says 401.
   */
  constructor(
    private readonly http: Http,
    private readonly originOf: (host: string) => string = (h) => `https://${h}`,
    private readonly signer?: () => Promise<RequestSigner>,
  ) {}

  /** Whether actor and collection reads are signed (the bot has an instance actor). */
  get signs(): boolean {
    return this.signer !== undefined;
  }

  /**
   * The handle's WebFinger record, or null when its server says there is no such
   * account (404, or 410 for one that is gone).
   */
  async webfinger(handle: string, opts: { signal?: AbortSignal } = {}): Promise<WebFinger | null> {
    const { user, host } = splitHandle(handle);
    // Unencoded, as Mastodon itself asks: both parts are plain letters, digits, dots and dashes.
    const url = new URL(`https://${host}${WEBFINGER_PATH}?resource=acct:${user}@${host}`);
    const res = await this.http.json(this.target(url), JrdSchema, {
      ...this.asked(url, opts.signal),
      accept: JRD_ACCEPT,
      maxBytes: BODY_LIMITS.webfinger,
      what: { data: "WebFinger data" },
      allow: [404, 410],
    });
    if (!res.ok) return null;
    const jrd = res.data;
    const links = jrd.links ?? [];
    const actor = links.find(
      (l) => l.rel === "self" && isActivityType(l.type) && l.href && isWebUrl(l.href),
    )?.href;
    const profile = links.find(
      (l) => l.rel === "http://webfinger.net/rel/profile-page" && l.href && isWebUrl(l.href),
    )?.href;
    return {
      subject: jrd.subject ?? `acct:${user}@${host}`,
      ...(actor ? { actor } : {}),
      ...(profile ? { profile } : {}),
    };
  }

  /**
   * The actor at `url`. Refuses one whose `id` is on another host than the URL
   * (a server may only speak for its own accounts), and anything that isn't an
   * account. A 401 (Mastodon's "secure mode", which wants signed requests) is a
   * RejectedError saying so.
   */
  async actor(url: string, opts: { signal?: AbortSignal } = {}): Promise<Actor> {
    if (!isWebUrl(url)) {
      throw new BadResponseError(`${url.slice(0, 80)} is not a web address`, "", undefined, {
        method: "GET",
      });
    }
    const at = new URL(url);
    const res = await this.http.json(this.target(at), ActorSchema, {
      ...this.asked(at, opts.signal),
      ...(await this.signing()),
      accept: ACTIVITY_ACCEPT,
      maxBytes: BODY_LIMITS.account,
      what: { data: "ActivityPub data", item: "an ActivityPub actor" },
      allow: [401],
    });
    if (!res.ok) {
      throw new RejectedError(
        this.signer
          ? `${at.host} refused my signed request for the account (${res.detail})`
          : `${at.host} only shows its accounts to signed requests (secure mode)`,
        at.host,
        401,
        res.detail,
        res.where,
      );
    }
    const a = res.data;
    const idHost = new URL(a.id).host;
    if (idHost !== at.host) {
      throw new BadResponseError(
        `${at.host} answered with an account on ${idHost}, which it can't speak for`,
        at.host,
        res.status,
        res.where,
      );
    }
    if (!ACTOR_TYPES.has(a.type)) {
      throw new BadResponseError(
        `${at.host} answered with a ${a.type.slice(0, 40)}, not an account`,
        at.host,
        res.status,
        res.where,
      );
    }
    const link = firstUrl(a.url);
    return {
      id: a.id,
      type: a.type,
      ...(a.preferredUsername ? { preferredUsername: a.preferredUsername } : {}),
      alsoKnownAs: aliasesOf(a.alsoKnownAs),
      ...(a.movedTo ? { movedTo: a.movedTo } : {}),
      manuallyApprovesFollowers: a.manuallyApprovesFollowers ?? false,
      ...(a.followers ? { followers: a.followers } : {}),
      ...(link ? { url: link } : {}),
    };
  }

  /**
   * WebFinger, then the actor. Null when there is no such account: WebFinger
   * says 404/410, or the actor it names is 404/410. A WebFinger record without
   * an ActivityPub link is a BadResponseError.
   */
  async actorOf(handle: string, opts: { signal?: AbortSignal } = {}): Promise<Actor | null> {
    const { host } = splitHandle(handle);
    const wf = await this.webfinger(handle, opts);
    if (!wf) return null;
    if (!wf.actor) {
      const where = { method: "GET", path: WEBFINGER_PATH };
      throw new BadResponseError(
        `${host} names no ActivityPub account for ${handle}`,
        host,
        undefined,
        where,
      );
    }
    try {
      return await this.actor(wf.actor, opts);
    } catch (err) {
      if (err instanceof RejectedError && (err.status === 404 || err.status === 410)) return null;
      throw err;
    }
  }

  /**
   * A collection's `totalItems` (an actor's followers), signed where the bot can sign; undefined
   * when the server doesn't say (a hidden count, or no number). A 401 (secure mode, unsigned or
   * refused) is a RejectedError.
   */
  async collectionTotal(
    url: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<number | undefined> {
    if (!isWebUrl(url)) return undefined;
    const at = new URL(url);
    const res = await this.http.json(this.target(at), CollectionSchema, {
      ...this.asked(at, opts.signal),
      ...(await this.signing()),
      accept: ACTIVITY_ACCEPT,
      maxBytes: BODY_LIMITS.account,
      what: { data: "ActivityPub data", item: "a collection" },
    });
    return res.data.totalItems ?? undefined;
  }

  /** The server's NodeInfo, from the highest 2.x schema it links to. Software names are lower-case. */
  async nodeinfo(host: string, opts: { signal?: AbortSignal } = {}): Promise<NodeInfo> {
    const index = new URL(`https://${host}/.well-known/nodeinfo`);
    const listed = await this.http.json(this.target(index), NodeInfoLinksSchema, {
      ...this.asked(index, opts.signal),
      what: NODEINFO,
      maxBytes: BODY_LIMITS.webfinger,
    });
    let best: { minor: number; href: string } | undefined;
    for (const l of listed.data.links) {
      const m = NODEINFO_2.exec(l.rel);
      if (m && (!best || Number(m[1]) > best.minor)) best = { minor: Number(m[1]), href: l.href };
    }
    let doc: URL | undefined;
    try {
      doc = best ? new URL(best.href, index) : undefined;
    } catch {
      doc = undefined;
    }
    if (!doc || !isWebUrl(doc.href)) {
      throw new BadResponseError(
        `${index.host} publishes no NodeInfo 2.x document`,
        index.host,
        listed.status,
        listed.where,
      );
    }
    const info = (
      await this.http.json(this.target(doc), NodeInfoSchema, {
        ...this.asked(doc, opts.signal),
        what: NODEINFO,
        maxBytes: BODY_LIMITS.nodeinfo,
      })
    ).data;
    return {
      software: { name: info.software.name.toLowerCase(), version: info.software.version ?? "" },
      protocols: info.protocols ?? [],
    };
  }

  /** The contacted URL: `originOf(host)` with the URL's own path and query. */
  private target(url: URL): URL {
    const origin = new URL(this.originOf(url.host)).origin;
    // Concatenated, not resolved: a path like `//elsewhere/x` must stay a path.
    return new URL(`${origin}${url.pathname}${url.search}`);
  }

  private async signing(): Promise<Pick<JsonOptions, "sign">> {
    return this.signer ? { sign: await this.signer() } : {};
  }

  /** Errors name the host the user knows; the signal, if any. */
  private asked(url: URL, signal: AbortSignal | undefined): JsonOptions {
    return { shownHost: url.host, ...(signal ? { signal } : {}) };
  }
}

// ——— Who follows a Move ————————————————————————————————————————————————

export type MoveSupport = "yes" | "no" | "unknown";

interface MoveEntry {
  support: "yes";
  /** The first version that follows a Move; older ones don't. */
  since?: string;
  note: string;
}

const MASTODON: MoveEntry = {
  support: "yes",
  since: "2.7.0",
  note: "Mastodon (and its forks glitch-soc and Hometown) follows the new account and unfollows the old one, since 2.7.0.",
};
const MISSKEY_FORK: MoveEntry = {
  support: "yes",
  note: "Misskey forks built on Calckey's or Misskey 13.12's code follow the new account when a Move arrives.",
};
const PLEROMA: MoveEntry = {
  support: "yes",
  note: "Pleroma and Akkoma follow the new account (if the person left that setting on) but don't unfollow the old one, so they stay in the old list too.",
};
const MICROBLOG: MoveEntry = {
  support: "yes",
  note: "micro.blog notices when someone it follows moves (Manton Reece, November 2022).",
};

/**
 * Incoming Move support by NodeInfo software name, from reference/apis.md A3
 * ("Who supports Move"). Keys are lower-case; forks that report the upstream
 * name (glitch-soc and Hometown say "mastodon") are covered by it.
 */
export const MOVE_SUPPORT: Readonly<Record<string, MoveEntry>> = {
  mastodon: MASTODON,
  "glitch-soc": MASTODON,
  glitch: MASTODON,
  hometown: MASTODON,
  misskey: {
    support: "yes",
    since: "13.12.0",
    note: "Misskey follows the new account when a Move arrives, since 13.12.0 (2023).",
  },
  calckey: MISSKEY_FORK,
  firefish: MISSKEY_FORK,
  iceshrimp: MISSKEY_FORK,
  sharkey: MISSKEY_FORK,
  cherrypick: MISSKEY_FORK,
  friendica: {
    support: "yes",
    note: "Friendica follows the new account when a Move arrives (added December 2022).",
  },
  gotosocial: {
    support: "yes",
    note: "GoToSocial follows the new account when a Move arrives.",
  },
  pleroma: PLEROMA,
  akkoma: PLEROMA,
  "micro.blog": MICROBLOG,
  microblog: MICROBLOG,
};

function versionParts(v: string): number[] | undefined {
  const m = /^v?(\d+(?:\.\d+)*)/.exec(v.trim());
  return m?.[1]?.split(".").map(Number);
}

function olderThan(version: string, since: string): boolean {
  const a = versionParts(version);
  const b = versionParts(since);
  if (!a || !b) return false;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/** Whether followers on this software follow a Move, and one line saying how. */
export function moveSupport(
  software: string,
  version?: string,
): { support: MoveSupport; note: string } {
  const name = software.trim().toLowerCase();
  const entry = Object.hasOwn(MOVE_SUPPORT, name) ? MOVE_SUPPORT[name] : undefined;
  if (!entry) {
    return {
      support: "unknown",
      note: `It isn't known whether ${software.trim() || "this software"} follows a Move; its people may have to follow the new account by hand.`,
    };
  }
  if (entry.since && version && olderThan(version, entry.since)) {
    return {
      support: "no",
      note: `${software.trim()} ${version.trim()} is older than ${entry.since}, the first version that follows a Move.`,
    };
  }
  return { support: entry.support, note: entry.note };
}

/** "yes", "no" (a version before support came) or "unknown" (software not in the table). */
export function supportsMove(software: string, version?: string): MoveSupport {
  return moveSupport(software, version).support;
}
