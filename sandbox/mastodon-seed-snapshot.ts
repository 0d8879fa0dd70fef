/**
 * Seeding what a Mastodon user exports besides follows (lists, blocks, mutes, domain blocks,
 * bookmarks) and reading it all back as an AccountSnapshot. Writes go through the store as
 * the services would (BlockService drops follows both ways, a list member is followed first).
 */

import { type MastodonContext, settle } from "./mastodon-context.js";
import type { AccountRow, StatusRow } from "./mastodon-rows.js";
import {
  Acct,
  BookmarkOptionsSchema,
  DEFAULT_DOMAINS,
  DomainName,
  ListOptionsSchema,
  ListTitle,
  MuteOptionsSchema,
  SnapshotSeedSchema,
  StatusUri,
} from "./mastodon-schemas.js";
import { resolveAcct, seedRemote } from "./mastodon-seed.js";
import { type AccountSnapshot, readSnapshot } from "./mastodon-snapshot.js";
import type {
  BookmarkOptions,
  ListOptions,
  MuteOptions,
  SnapshotListRecord,
  SnapshotSeed,
} from "./mastodon-types.js";

/** A list owned by username; members the owner doesn't follow yet are followed first. */
export function addList(
  ctx: MastodonContext,
  username: string,
  title: string,
  memberAccts: string[] = [],
  o: ListOptions = {},
): SnapshotListRecord {
  const { store } = ctx;
  const owner = store.local(username);
  const t = ListTitle.parse(title);
  const lo = ListOptionsSchema.parse(o);
  const list = store.createList(owner, t, lo.repliesPolicy ?? "list", lo.exclusive ?? false);
  for (const acct of memberAccts) {
    const member = resolveAcct(ctx, Acct.parse(acct));
    if (member === owner) throw new Error("cannot add yourself to a list");
    // ListAccount needs the Follow.
    if (!store.followOf(owner, member)) store.follow(owner, member, {});
    store.addListMember(list, member);
  }
  return {
    id: String(list.id),
    title: list.title,
    members: list.members.map((m) => store.acctOf(store.accounts.get(m.accountId)!)),
  };
}

/** BlockService: also removes follows and follow requests both ways. Returns the Block id. */
export function block(ctx: MastodonContext, username: string, acct: string): string {
  const owner = ctx.store.local(username);
  const target = resolveAcct(ctx, Acct.parse(acct));
  if (target === owner) throw new Error("cannot block yourself");
  return String(ctx.store.block(owner, target).id);
}

/** Returns the Mute id. Muting again updates the same record. */
export function mute(
  ctx: MastodonContext,
  username: string,
  acct: string,
  o: MuteOptions = {},
): string {
  const owner = ctx.store.local(username);
  const target = resolveAcct(ctx, Acct.parse(acct));
  if (target === owner) throw new Error("cannot mute yourself");
  const mo = MuteOptionsSchema.parse(o);
  const expiresAt = mo.expiresIn === undefined ? null : ctx.clock() + mo.expiresIn * 1000;
  return String(ctx.store.mute(owner, target, mo.hideNotifications ?? true, expiresAt).id);
}

/** Also removes follows to and from that domain. Returns the AccountDomainBlock id. */
export function blockDomain(ctx: MastodonContext, username: string, domain: string): string {
  const owner = ctx.store.local(username);
  const name = DomainName.parse(domain).toLowerCase();
  if (ctx.store.isLocalDomain(name)) throw new Error("cannot block your own domain");
  return String(ctx.store.blockDomain(owner, name).id);
}

/** Bookmarks the status with that URI, creating it (and its remote author) if unknown. */
/** Bookmarks came in Mastodon 3.1.0: an older stand-in can't be given any. */
function noBookmarksBefore31(ctx: MastodonContext): void {
  if (!ctx.store.atLeast(3, 1)) throw new Error(`Mastodon ${ctx.version} has no bookmarks (3.1+)`);
}

export function bookmark(
  ctx: MastodonContext,
  username: string,
  statusUri: string,
  o: BookmarkOptions = {},
): string {
  noBookmarksBefore31(ctx);
  const owner = ctx.store.local(username);
  const status = findOrCreateStatus(
    ctx,
    StatusUri.parse(statusUri),
    BookmarkOptionsSchema.parse(o),
  );
  return String(ctx.store.bookmark(owner, status).id);
}

/** The status with that URI, or a new one (a local status when the URI is this server's). */
function findOrCreateStatus(ctx: MastodonContext, uri: string, o: BookmarkOptions): StatusRow {
  const { store } = ctx;
  const existing = store.statusesByUri.get(uri);
  if (existing) return existing;
  const u = new URL(uri);
  const shaped = /^\/users\/([^/]+)\/statuses\/([^/]+)$/.exec(u.pathname);
  const local = `${u.protocol}//${u.host}` === store.publicBase;
  let author: AccountRow;
  if (local) {
    if (!shaped) throw new Error(`not a local status URI: ${uri}`);
    author = store.local(shaped[1]!);
  } else if (o.author) {
    author = resolveAcct(ctx, o.author);
  } else {
    author = resolveAcct(ctx, `${shaped ? shaped[1] : "author"}@${u.host}`);
  }
  const url =
    o.url !== undefined
      ? o.url
      : local || shaped
        ? `${u.protocol}//${u.host}/@${author.username}/${shaped![2]}`
        : uri;
  return store.createStatus({
    accountId: author.id,
    uri,
    url,
    content: o.content ?? "<p>A bookmarked post</p>",
    createdAt: new Date(ctx.clock()),
    visibility: "public",
    language: "en",
  });
}

/** For each kind: a number makes that many generated entries, an array names them. */
export function seedSnapshot(
  ctx: MastodonContext,
  username: string,
  seed: SnapshotSeed,
): AccountSnapshot {
  const { store } = ctx;
  const owner = store.local(username);
  const sp = SnapshotSeedSchema.parse(seed);
  const domains = sp.domains ?? DEFAULT_DOMAINS;
  const gen = (prefix: string, n: number) => seedRemote(ctx, n, prefix, domains);
  if (sp.lists !== undefined) {
    type ListSpec = Exclude<(typeof sp)["lists"], number | undefined>[number];
    const specs: ListSpec[] =
      typeof sp.lists === "number"
        ? Array.from({ length: sp.lists }, (_, i) => ({
            title: `List ${i + 1}`,
            members: 3 + (i % 4),
          }))
        : sp.lists;
    for (const spec of specs) {
      const members =
        typeof spec.members === "number"
          ? gen("member", spec.members).map((a) => store.acctOf(a))
          : (spec.members ?? []);
      addList(ctx, username, spec.title, members, {
        ...(spec.repliesPolicy ? { repliesPolicy: spec.repliesPolicy } : {}),
        ...(spec.exclusive !== undefined ? { exclusive: spec.exclusive } : {}),
      });
    }
  }
  if (sp.blocks !== undefined) {
    const targets =
      typeof sp.blocks === "number"
        ? gen("blocked", sp.blocks)
        : sp.blocks.map((acct) => resolveAcct(ctx, acct));
    for (const t of targets) store.block(owner, t);
  }
  if (sp.mutes !== undefined) {
    if (typeof sp.mutes === "number") {
      gen("muted", sp.mutes).forEach((t, i) => {
        store.mute(owner, t, i % 3 !== 0, null);
      });
    } else {
      for (const m of sp.mutes) {
        const { acct, ...mo } = typeof m === "string" ? { acct: m } : m;
        mute(ctx, username, acct, mo);
      }
    }
  }
  if (sp.domainBlocks !== undefined) {
    const names =
      typeof sp.domainBlocks === "number"
        ? Array.from({ length: sp.domainBlocks }, () => `blocked${++ctx.seedSeq}.example`)
        : sp.domainBlocks;
    for (const d of names) blockDomain(ctx, username, d);
  }
  if (sp.bookmarks !== undefined && sp.bookmarks !== 0) {
    noBookmarksBefore31(ctx);
    if (typeof sp.bookmarks === "number") {
      for (const author of gen("poster", sp.bookmarks)) {
        const n = 100_000 + ++ctx.seedSeq;
        const status = store.createStatus({
          accountId: author.id,
          uri: `https://${author.domain}/users/${author.username}/statuses/${n}`,
          url: `https://${author.domain}/@${author.username}/${n}`,
          content: `<p>Post by ${author.username}</p>`,
          createdAt: new Date(ctx.clock()),
          visibility: "public",
          language: "en",
        });
        store.bookmark(owner, status);
      }
    } else {
      for (const uri of sp.bookmarks) bookmark(ctx, username, uri);
    }
  }
  return readSnapshot(store, owner);
}

/** What Mastodon holds for the account, once what is due by the sandbox clock has happened. */
export function snapshotOf(ctx: MastodonContext, username: string): AccountSnapshot {
  settle(ctx);
  return readSnapshot(ctx.store, ctx.store.local(username));
}
