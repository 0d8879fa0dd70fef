/**
 * Remote accounts in the Mastodon stand-in: resolving them (ResolveAccountService) from, in
 * order, the accounts the store already has (unless skip_cache), the resolvables registered
 * with addResolvable, and the `resolveActor` hook (mastodon-resolve.ts: by default WebFinger +
 * actor over HTTP from `originOf(host)`, loopback hosts only); and the account settings that
 * name them: aliases (also_known_as) and locking. The Move is in mastodon-move.ts, serving
 * actors in mastodon-activitypub.ts.
 */

import { z } from "zod";
import {
  httpResolveActor,
  loopbackOriginOf,
  type OriginOf,
  type ResolveActor,
  type ResolvedActor,
} from "./mastodon-resolve.js";
import { type AccountRow, acctParts } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

// ---- public types ---------------------------------------------------------------------

/** A remote account the stand-in can WebFinger although it doesn't know it yet. */
export interface ResolvableOptions {
  displayName?: string;
  locked?: boolean;
  bot?: boolean;
  /** The account has moved: to this acct (created when needed), or `true` for user@moved.DOMAIN. */
  moved?: string | boolean;
  /** Actor URIs in its alsoKnownAs. */
  alsoKnownAs?: string[];
  /** The actor id, when it isn't https://host/users/user (micro.blog: https://micro.blog/activitypub/user). */
  uri?: string;
  /** The profile page, when it isn't https://host/@user. */
  url?: string;
  followersCount?: number;
  followingCount?: number;
  statusesCount?: number;
}

/** A failed validation: `message` is "Validation failed: " + Rails' full messages. */
export class ValidationError extends Error {
  constructor(readonly errors: { attribute: string; type: string; message: string }[]) {
    super(`Validation failed: ${errors.map((e) => e.message).join(", ")}`);
    this.name = "ValidationError";
  }
}

// ---- schemas --------------------------------------------------------------------------

const AcctRe = /^@?[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?(@[a-z0-9.-]+(:\d+)?)?$/i;
export const Acct = z.string().trim().regex(AcctRe, "not user or user@host");
const RemoteAcct = z
  .string()
  .trim()
  .regex(/^@?[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?@[a-z0-9.-]+(:\d+)?$/i, "not user@host");
const Count = z.number().int().min(0).max(100_000_000);
export const ResolvableSchema = z.object({
  displayName: z.string().optional(),
  locked: z.boolean().optional(),
  bot: z.boolean().optional(),
  moved: z.union([z.boolean(), Acct]).optional(),
  alsoKnownAs: z.array(z.url()).optional(),
  uri: z.url().optional(),
  url: z.url().optional(),
  followersCount: Count.optional(),
  followingCount: Count.optional(),
  statusesCount: Count.optional(),
});

// ---- the federation state -------------------------------------------------------------

interface Resolvable extends ResolvableOptions {
  username: string;
  domain: string;
}

export interface FederationOptions {
  resolveActor?: ResolveActor;
  originOf?: OriginOf;
}

export class Federation {
  private readonly resolvables = new Map<string, Resolvable>();
  private readonly aliases = new Map<string, { acct: string; uri: string }[]>();
  /** setOrigin() mappings, consulted before the originOf option. */
  private readonly origins = new Map<string, string>();
  private readonly resolver: ResolveActor;
  private readonly originOf: OriginOf;

  constructor(
    private readonly store: Store,
    opts: FederationOptions,
  ) {
    this.originOf = opts.originOf ?? loopbackOriginOf;
    this.resolver = opts.resolveActor ?? httpResolveActor((host) => this.originFor(host));
  }

  /** Where https://HOST/… is fetched from: a setOrigin() mapping, else the originOf option. */
  originFor(host: string): string | null | undefined {
    return this.origins.get(host.toLowerCase()) ?? this.originOf(host);
  }

  /** Fetch https://HOST/… from `origin` (e.g. another sandbox's url); null removes the mapping. */
  setOrigin(host: string, origin: string | null): void {
    const h = z
      .string()
      .regex(/^[a-z0-9.-]+(:\d+)?$/i)
      .parse(host)
      .toLowerCase();
    if (origin === null) this.origins.delete(h);
    else this.origins.set(h, new URL(origin).origin);
  }

  // ---- resolving ------------------------------------------------------------------------

  addResolvable(acct: string, opts: ResolvableOptions = {}): void {
    const { username, domain } = acctParts(RemoteAcct.parse(acct));
    if (domain === null || this.store.isLocalDomain(domain)) {
      throw new Error(`${acct} is local; add it with addAccount`);
    }
    const o = ResolvableSchema.parse(opts);
    this.resolvables.set(`${username.toLowerCase()}@${domain}`, { ...o, username, domain });
  }

  private fromRegistry(username: string, domain: string): ResolvedActor | null {
    const r = this.resolvables.get(`${username.toLowerCase()}@${domain}`);
    if (!r) return null;
    const out: ResolvedActor = {
      id: r.uri ?? `https://${domain}/users/${r.username}`,
      acct: `${r.username}@${domain}`,
      alsoKnownAs: r.alsoKnownAs ?? [],
      locked: r.locked ?? false,
      movedTo: r.moved === true ? `${r.username}@moved.${domain}` : r.moved || null,
      displayName: r.displayName ?? "",
      bot: r.bot ?? false,
    };
    if (r.url !== undefined) out.url = r.url;
    if (r.followersCount !== undefined) out.followersCount = r.followersCount;
    if (r.followingCount !== undefined) out.followingCount = r.followingCount;
    return out;
  }

  /** The account with that actor URI, if the store has it. */
  findByUri(uri: string): AccountRow | undefined {
    const local = this.localByUrl(uri);
    if (local) return local;
    for (const a of this.store.accounts.values()) {
      if (a.domain !== null && (this.store.uriOf(a) === uri || a.url === uri)) return a;
    }
    return undefined;
  }

  /** A local account from its actor id or profile URL on this server. */
  localByUrl(uri: string): AccountRow | undefined {
    if (!uri.startsWith(`${this.store.publicBase}/`)) return undefined;
    const path = uri.slice(this.store.publicBase.length);
    const m = /^\/(?:users\/|@)([^/?#]+)$/.exec(path);
    if (!m) return undefined;
    const row = this.store.findByAcct(decodeURIComponent(m[1]!));
    return row?.domain === null ? row : undefined;
  }

  /** The account a movedTo points at: known by URI or acct, else created as a remote account. */
  private movedTarget(ref: string): AccountRow {
    if (/^https?:\/\//i.test(ref)) {
      const known = this.findByUri(ref);
      if (known) return known;
      const u = new URL(ref);
      const username = u.pathname.split("/").filter(Boolean).at(-1) ?? "unknown";
      const existing = this.store.findByAcct(`${username}@${u.host}`);
      if (existing) return existing;
      return this.store.createAccount({ username, domain: u.host.toLowerCase(), uri: ref });
    }
    const { username, domain } = acctParts(ref);
    const existing = this.store.findByAcct(ref.replace(/^@/, ""));
    if (existing) return existing;
    if (domain === null || this.store.isLocalDomain(domain)) {
      throw new Error(`no local account ${username}`);
    }
    return this.store.createAccount({ username, domain });
  }

  /**
   * ResolveAccountService#call(acct, skip_cache:): local accounts from the store; known remote
   * accounts as stored unless skipCache; otherwise WebFinger (registry, then the hook), the
   * stored account created or refreshed from what came back. null: not found.
   */
  async resolveAccount(
    acct: string,
    opts: { skipCache?: boolean } = {},
  ): Promise<AccountRow | null> {
    const stripped = acct.trim().replace(/^@/, "");
    const { username, domain } = acctParts(stripped);
    if (this.store.isLocalDomain(domain)) {
      const row = this.store.findByAcct(username);
      return row?.domain === null ? row : null;
    }
    const known = this.store.findByAcct(stripped);
    if (known && !opts.skipCache) return known;
    let actor: ResolvedActor | null;
    try {
      actor =
        this.fromRegistry(username, domain!) ?? (await this.resolver(`${username}@${domain}`));
    } catch {
      actor = null;
    }
    if (!actor) return null;
    return this.upsertRemote(actor, username, domain!);
  }

  private upsertRemote(actor: ResolvedActor, username: string, domain: string): AccountRow | null {
    const parts = actor.acct ? acctParts(actor.acct) : { username, domain };
    const d = parts.domain ?? domain;
    if (this.store.isLocalDomain(d)) {
      // An actor that turns out to be ours (a loop through originOf): use the local account.
      const own = this.localByUrl(actor.id) ?? this.store.findByAcct(parts.username);
      return own?.domain === null ? own : null;
    }
    const defaultUri = `https://${d}/users/${parts.username}`;
    let row = this.store.findByAcct(`${parts.username}@${d}`) ?? this.findByUri(actor.id);
    if (!row) {
      row = this.store.createAccount({ username: parts.username, domain: d });
    }
    if (row.domain === null) return row;
    row.uri = actor.id === defaultUri ? null : actor.id;
    row.alsoKnownAs = [...actor.alsoKnownAs];
    if (actor.locked !== undefined) row.locked = actor.locked;
    if (actor.displayName !== undefined) row.displayName = actor.displayName;
    if (actor.bot !== undefined) row.bot = actor.bot;
    if (actor.url !== undefined)
      row.url = actor.url === `https://${d}/@${parts.username}` ? null : actor.url;
    if (actor.followersCount !== undefined) row.reportedFollowers = actor.followersCount;
    if (actor.followingCount !== undefined) row.reportedFollowing = actor.followingCount;
    if (actor.movedTo) {
      try {
        const target = this.movedTarget(actor.movedTo);
        row.movedToAccountId = target.id === row.id ? null : target.id;
      } catch {
        // A movedTo naming an account this server can't have: left as it was.
      }
    } else if (actor.movedTo === null) {
      row.movedToAccountId = null;
    }
    return row;
  }

  // ---- aliases and locking --------------------------------------------------------------

  /**
   * AccountAlias#create: the acct is resolved (cached accounts as they are) and its actor URI
   * appended to also_known_as. An http(s) URI is taken as the actor id without resolving.
   * Throws ValidationError: "Acct could not be found", "Acct cannot be current account",
   * "Uri has already been taken".
   */
  async addAlias(username: string, acctOrUri: string): Promise<string[]> {
    const account = this.store.local(username);
    const value = acctOrUri.trim();
    let acct: string;
    let uri: string | null;
    if (/^https?:\/\//i.test(value)) {
      uri = z.url().parse(value);
      const known = this.findByUri(uri);
      acct = known ? this.store.acctOf(known) : uri;
    } else {
      acct = Acct.parse(value).replace(/^@/, "");
      const target = await this.resolveAccount(acct);
      uri = target ? this.store.uriOf(target) : null;
    }
    const list = this.aliases.get(account.id) ?? [];
    if (uri === null) {
      throw new ValidationError([
        { attribute: "acct", type: "not_found", message: "Acct could not be found" },
      ]);
    }
    if (uri === this.store.uriOf(account)) {
      throw new ValidationError([
        { attribute: "acct", type: "move_to_self", message: "Acct cannot be current account" },
      ]);
    }
    if (list.some((a) => a.uri === uri)) {
      throw new ValidationError([
        { attribute: "uri", type: "taken", message: "Uri has already been taken" },
      ]);
    }
    list.push({ acct, uri });
    this.aliases.set(account.id, list);
    account.alsoKnownAs = [...account.alsoKnownAs, uri];
    return [...account.alsoKnownAs];
  }

  /** AccountAlias#destroy, by the acct it was added with or by URI. */
  removeAlias(username: string, acctOrUri: string): boolean {
    const account = this.store.local(username);
    const key = acctOrUri.trim().replace(/^@/, "").toLowerCase();
    const list = this.aliases.get(account.id) ?? [];
    const i = list.findIndex((a) => a.acct.toLowerCase() === key || a.uri.toLowerCase() === key);
    let uri: string | undefined;
    if (i !== -1) {
      uri = list[i]!.uri;
      list.splice(i, 1);
    } else {
      uri = account.alsoKnownAs.find((u) => u.toLowerCase() === key);
    }
    if (uri === undefined) return false;
    account.alsoKnownAs = account.alsoKnownAs.filter((u) => u !== uri);
    return true;
  }

  alsoKnownAsOf(username: string): string[] {
    return [...this.store.local(username).alsoKnownAs];
  }

  setLocked(username: string, locked: boolean): AccountRow {
    const account = this.store.local(username);
    account.locked = z.boolean().parse(locked);
    return account;
  }
}
