/**
 * The two checks around a Move, read the way Mastodon reads them:
 *  - alias: does the new account's actor list the old actor's URI in
 *    `alsoKnownAs`? The old server re-fetches the new actor when the Move form
 *    is submitted and refuses with "not an alias of this account" otherwise.
 *  - moved: does the old actor carry `movedTo`, and is it the new account?
 * Each answer is a verdict the steps can branch on, and `describeAlias` /
 * `describeMove` phrase it as one sentence for the chat.
 */

import { setTimeout as sleep } from "node:timers/promises";
import { canonicalHandle, domainOf, sameHandle, splitHandle, withDomain } from "../model/handle.js";
import { RejectedError, RemoteError } from "../net/errors.js";
import type { Actor, FediverseClient } from "./fediverse.js";
import type { Account } from "./mastodon.js";

export type Which = "new" | "old";

/** The handle's account could not be read. `handle` is `user@host`; `status`, a refusal's. */
export type LookupFailure =
  | { kind: "no-account"; which: Which; handle: string }
  | { kind: "unreachable"; which: Which; host: string; reason: string; status?: number };

/**
 * `oldActor` is the old account's actor URI: the one Mastodon compares. It is
 * read from the actor itself, or from WebFinger when the old server only shows
 * actors to signed requests (Mastodon's secure mode).
 * `missing`: the new actor has no aliases at all. `near`: one alias is the old
 * actor's URI but for case or a trailing slash, which Mastodon refuses all the
 * same. `elsewhere`: it has some, but none is the old actor; `shown` holds each
 * as `@user@host` where it could be read, else its URI.
 */
export type AliasVerdict =
  | { kind: "ok"; newActor: Actor; oldActor: string }
  | { kind: "missing"; newActor: Actor; oldActor: string; aliases: string[] }
  | { kind: "near"; newActor: Actor; oldActor: string; aliases: string[]; alias: string }
  | { kind: "elsewhere"; newActor: Actor; oldActor: string; aliases: string[]; shown: string[] }
  /** The new server shows its actor only to signed requests, and refused ours or got none. */
  | { kind: "unchecked"; host: string; reason: string }
  | LookupFailure;

/**
 * `elsewhere`: moved, but not to the new account; `shown` as for aliases. `unchecked`: the old
 * server shows its actor only to signed requests (`activitypub` says how it refused) and its
 * API only to signed-in apps (`api`), so nothing public says whether it moved.
 */
export type MoveVerdict =
  | { kind: "moved"; to: string }
  | { kind: "not-yet" }
  | { kind: "elsewhere"; to: string; shown: string }
  | { kind: "unchecked"; host: string; activitypub: string; api: string }
  | LookupFailure;

export interface Handles {
  newHandle: string;
  oldHandle: string;
}

/** How long naming one alias may take; past that, the bot shows its URI. */
const NAME_TIMEOUT_MS = 5_000;
const NAMED_AT_MOST = 5;

/**
 * Actor URIs compared as Mastodon compares them: letter for letter. The Move form
 * checks `target_account.also_known_as.include?(ActivityPub::TagManager.instance.uri_for(account))`
 * (app/models/account_migration.rb, `validate_target_account`), and a receiving server
 * `target_account.also_known_as.include?(origin_account.uri)` (app/lib/activitypub/activity/move.rb):
 * Ruby's Array#include? with String#==, on the URIs as the actor's `alsoKnownAs` gave them
 * (ProcessAccountService stores them unchanged). A trailing slash or another case is another
 * URI there, so it is one here: forgiving it would promise a Move that Mastodon refuses.
 */
export function sameActor(a: string, b: string): boolean {
  return a === b;
}

/**
 * Where the old actor's `movedTo` points, compared with the new actor: not an alias check.
 * The old server writes `movedTo` from the account it resolved when the Move was submitted,
 * and the followers' servers fetch that URI and follow the actor it names; a trailing slash
 * or the host's case doesn't make it another account there, and calling it "moved elsewhere"
 * would stop the journey for nothing.
 */
function samePlace(a: string, b: string): boolean {
  const normal = (uri: string) => {
    try {
      const u = new URL(uri);
      return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}${u.search}${u.hash}`;
    } catch {
      return uri.replace(/\/+$/, "");
    }
  };
  return normal(a) === normal(b);
}

/**
 * The same URI but for case or trailing slashes: what a person would call "the same address",
 * and Mastodon would not. Only used to say precisely what is wrong with such an alias.
 */
function nearlySameActor(a: string, b: string): boolean {
  const loose = (uri: string) => uri.trim().toLowerCase().replace(/\/+$/, "");
  return a !== b && loose(a) === loose(b);
}

function failure(err: unknown, which: Which, handle: string): LookupFailure {
  if (!(err instanceof RemoteError)) throw err;
  return {
    kind: "unreachable",
    which,
    host: err.host || splitHandle(handle).host,
    reason: err.message,
    ...(err instanceof RejectedError ? { status: err.status } : {}),
  };
}

/** Refused for want of a signature or a signed-in app, not failing for a while. */
const closed = (status: number | undefined) => status === 401 || status === 403;

type Lookup<T> = { ok: true; value: T } | { ok: false; failure: LookupFailure };

async function lookupActor(
  client: FediverseClient,
  which: Which,
  handle: string,
): Promise<Lookup<Actor>> {
  try {
    const actor = await client.actorOf(handle);
    if (!actor)
      return { ok: false, failure: { kind: "no-account", which, handle: canonicalHandle(handle) } };
    return { ok: true, value: actor };
  } catch (err) {
    return { ok: false, failure: failure(err, which, handle) };
  }
}

/** The old actor's URI; WebFinger's `self` link stands in when the actor wants signed requests. */
async function lookupUri(
  client: FediverseClient,
  which: Which,
  handle: string,
): Promise<Lookup<string>> {
  try {
    const wf = await client.webfinger(handle);
    if (!wf)
      return { ok: false, failure: { kind: "no-account", which, handle: canonicalHandle(handle) } };
    if (!wf.actor) {
      const { host } = splitHandle(handle);
      const reason = `${host} names no ActivityPub account for ${canonicalHandle(handle)}`;
      return { ok: false, failure: { kind: "unreachable", which, host, reason } };
    }
    try {
      return { ok: true, value: (await client.actor(wf.actor)).id };
    } catch (err) {
      if (err instanceof RejectedError && (err.status === 401 || err.status === 403)) {
        return { ok: true, value: wf.actor };
      }
      if (err instanceof RejectedError && (err.status === 404 || err.status === 410)) {
        return {
          ok: false,
          failure: { kind: "no-account", which, handle: canonicalHandle(handle) },
        };
      }
      throw err;
    }
  } catch (err) {
    return { ok: false, failure: failure(err, which, handle) };
  }
}

/** `@user@host` for an actor URI, read from the actor; the URI itself when that fails. */
async function nameOf(client: FediverseClient, uri: string): Promise<string> {
  try {
    const a = await client.actor(uri, { signal: AbortSignal.timeout(NAME_TIMEOUT_MS) });
    if (a.preferredUsername) return `@${a.preferredUsername}@${new URL(a.id).host}`;
  } catch {
    // shown as its URI
  }
  return uri;
}

/** Tries of one check whose verdict was a passing failure, and the first pause between them. */
const CHECK_TRIES = 3;
const CHECK_PAUSE_MS = 300;

/**
 * A check asked again while its verdict is a passing failure (a timeout, a 5xx, an answer cut
 * short: "unreachable" without a refusal's status), pausing longer each time: one failed request
 * among the several a check makes shouldn't send the user back to tap "Check again". A refusal,
 * an account that isn't there, or the last try's failure is the verdict.
 */
async function patiently<V extends AliasVerdict | MoveVerdict>(
  check: () => Promise<V>,
): Promise<V> {
  for (let tries = 1; ; tries++) {
    const verdict = await check();
    const passing = verdict.kind === "unreachable" && verdict.status === undefined;
    if (!passing || tries >= CHECK_TRIES) return verdict;
    await sleep(CHECK_PAUSE_MS * 2 ** (tries - 1));
  }
}

/** Does the new account list the old one as an alias? Asked again after a passing failure. */
export function checkAlias(client: FediverseClient, h: Handles): Promise<AliasVerdict> {
  return patiently(() => aliasOnce(client, h));
}

async function aliasOnce(client: FediverseClient, h: Handles): Promise<AliasVerdict> {
  const [fresh, old] = await Promise.all([
    lookupActor(client, "new", h.newHandle),
    lookupUri(client, "old", h.oldHandle),
  ]);
  if (!fresh.ok) {
    const f = fresh.failure;
    // GoToSocial, and Mastodon in secure mode: no public API names a Mastodon account's aliases
    // either (REST::AccountSerializer has no also_known_as), so there is nothing else to read.
    if (f.kind === "unreachable" && closed(f.status)) {
      return { kind: "unchecked", host: f.host, reason: f.reason };
    }
    return f;
  }
  if (!old.ok) return old.failure;
  const newActor = fresh.value;
  const oldActor = old.value;
  const aliases = newActor.alsoKnownAs;
  if (aliases.some((a) => sameActor(a, oldActor))) return { kind: "ok", newActor, oldActor };
  if (aliases.length === 0) return { kind: "missing", newActor, oldActor, aliases };
  const near = aliases.find((a) => nearlySameActor(a, oldActor));
  if (near !== undefined) return { kind: "near", newActor, oldActor, aliases, alias: near };
  const oldShown = `@${canonicalHandle(h.oldHandle)}`;
  const shown = await Promise.all(
    aliases.map(async (uri, i) => {
      if (i >= NAMED_AT_MOST) return uri;
      const name = await nameOf(client, uri);
      // An alias that names the old account by another URI (its profile page, say) still fails
      // Mastodon's exact check; showing it as the old handle would only confuse.
      return sameHandle(name, oldShown) ? uri : name;
    }),
  );
  return { kind: "elsewhere", newActor, oldActor, aliases, shown };
}

/**
 * Has the old account moved, and to the new one? Read from the old actor's `movedTo`; when the
 * old server shows its actor only to signed requests (secure mode, and the bot can't sign or was
 * refused), from its public REST profile instead (`lookup`: GET /api/v1/accounts/lookup, whose
 * `moved` names the new account as the old server knows it).
 */
export function checkMoved(
  client: FediverseClient,
  h: Handles,
  lookup?: () => Promise<Account>,
): Promise<MoveVerdict> {
  return patiently(() => movedOnce(client, h, lookup));
}

async function movedOnce(
  client: FediverseClient,
  h: Handles,
  lookup?: () => Promise<Account>,
): Promise<MoveVerdict> {
  const old = await lookupActor(client, "old", h.oldHandle);
  if (!old.ok) {
    const f = old.failure;
    if (f.kind !== "unreachable" || !closed(f.status) || !lookup) return f;
    return movedFromProfile(lookup, h, f);
  }
  const to = old.value.movedTo;
  if (!to) return { kind: "not-yet" };
  // Cheap first: WebFinger's self link is the actor's id on every server we know.
  try {
    const wf = await client.webfinger(h.newHandle);
    if (wf?.actor && samePlace(wf.actor, to)) return { kind: "moved", to };
  } catch {
    // read the actor below, which reports the failure
  }
  const fresh = await lookupActor(client, "new", h.newHandle);
  if (!fresh.ok) return fresh.failure;
  if (samePlace(fresh.value.id, to)) return { kind: "moved", to };
  return { kind: "elsewhere", to, shown: await nameOf(client, to) };
}

async function movedFromProfile(
  lookup: () => Promise<Account>,
  h: Handles,
  refused: Extract<LookupFailure, { kind: "unreachable" }>,
): Promise<MoveVerdict> {
  const { host } = splitHandle(h.oldHandle);
  let account: Account;
  try {
    account = await lookup();
  } catch (err) {
    if (err instanceof RejectedError && closed(err.status)) {
      return { kind: "unchecked", host, activitypub: refused.reason, api: err.message };
    }
    return failure(err, "old", h.oldHandle);
  }
  if (!account.moved) return { kind: "not-yet" };
  // A remote account's acct is user@host; a local one's is the bare username.
  const acct = withDomain(account.moved.acct, host);
  const to = account.moved.url ?? acct;
  if (sameHandle(acct, h.newHandle)) return { kind: "moved", to };
  return { kind: "elsewhere", to, shown: `@${acct}` };
}

// ——— Sentences ——————————————————————————————————————————————————————————

function shownHandle(handle: string): string {
  try {
    return `@${canonicalHandle(handle)}`;
  } catch {
    return handle;
  }
}

function listed(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function describeFailure(v: LookupFailure, h: Handles): string {
  const handle = shownHandle(v.which === "new" ? h.newHandle : h.oldHandle);
  if (v.kind === "no-account") {
    const host = domainOf(v.handle);
    return `${host} says there is no account ${handle} — check the spelling.`;
  }
  return `I couldn't check ${handle}: ${v.reason.replace(/[.\s]+$/, "")}.`;
}

export function describeAlias(v: AliasVerdict, h: Handles): string {
  const fresh = shownHandle(h.newHandle);
  const old = shownHandle(h.oldHandle);
  switch (v.kind) {
    case "ok":
      return `${fresh} lists ${old} as an alias, so the move can go ahead.`;
    case "missing":
      return `${fresh} doesn't list ${old} as an alias yet: it has no aliases at all.`;
    case "near":
      return `${fresh} lists ${v.alias} as an alias, but Mastodon needs exactly ${v.oldActor}: it compares the addresses letter for letter, so a capital letter or a trailing slash makes another one. Remove that alias and add ${old} again.`;
    case "elsewhere":
      return `${fresh} doesn't list ${old} as an alias: it lists ${listed(v.shown)} instead — check the spelling, or add ${old} as well.`;
    case "unchecked":
      return `I can't read ${fresh}'s aliases: ${v.host} shows its accounts only to signed requests.`;
    default:
      return describeFailure(v, h);
  }
}

export function describeMove(v: MoveVerdict, h: Handles): string {
  const fresh = shownHandle(h.newHandle);
  const old = shownHandle(h.oldHandle);
  switch (v.kind) {
    case "moved":
      return `${old} has moved to ${fresh}.`;
    case "not-yet":
      return `${old} hasn't moved yet: its profile doesn't point to a new account.`;
    case "elsewhere":
      return `${old} has moved, but to ${v.shown}, not to ${fresh}.`;
    case "unchecked":
      return `I can't see whether ${old} has moved: ${v.host} shows it only to signed requests and signed-in apps.`;
    default:
      return describeFailure(v, h);
  }
}
