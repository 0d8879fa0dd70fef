/**
 * The REST entities the Mastodon stand-in serves and the serializers that write them
 * (REST::AccountSerializer, CredentialAccountSerializer, StatusSerializer,
 * RelationshipSerializer), with each version's attributes as upstream added them.
 */

import type { AccountRow, StatusRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

/** Mastodon's Account entity, as served. */
export interface MastodonAccount {
  id: string;
  username: string;
  acct: string;
  display_name: string;
  locked: boolean;
  bot: boolean;
  discoverable: boolean | null;
  indexable?: boolean;
  group: boolean;
  created_at: string;
  note: string;
  url: string;
  uri: string;
  avatar: string;
  avatar_static: string;
  header: string;
  header_static: string;
  followers_count: number;
  following_count: number;
  statuses_count: number;
  last_status_at: string | null;
  hide_collections?: boolean | null;
  noindex?: boolean;
  emojis: unknown[];
  roles?: unknown[];
  fields: { name: string; value: string; verified_at: string | null }[];
  moved?: MastodonAccount | null;
}

export interface MastodonCredentialAccount extends MastodonAccount {
  source: {
    privacy: string;
    sensitive: boolean;
    language: string | null;
    note: string;
    fields: { name: string; value: string; verified_at: string | null }[];
    follow_requests_count: number;
    hide_collections?: boolean | null;
    discoverable?: boolean | null;
    indexable?: boolean;
  };
  role: { id: string; name: string; permissions: string; color: string; highlighted: boolean };
}

export interface MastodonRelationship {
  id: string;
  following: boolean;
  showing_reblogs: boolean;
  notifying: boolean;
  languages?: string[] | null;
  followed_by: boolean;
  blocking: boolean;
  blocked_by: boolean;
  muting: boolean;
  muting_notifications: boolean;
  requested: boolean;
  requested_by?: boolean;
  domain_blocking: boolean;
  endorsed: boolean;
  note: string;
}

export interface MastodonStatus {
  id: string;
  created_at: string;
  in_reply_to_id: string | null;
  in_reply_to_account_id: string | null;
  sensitive: boolean;
  spoiler_text: string;
  visibility: string;
  language: string | null;
  uri: string;
  url: string | null;
  replies_count: number;
  reblogs_count: number;
  favourites_count: number;
  edited_at?: string | null;
  favourited?: boolean;
  reblogged?: boolean;
  muted?: boolean;
  bookmarked?: boolean;
  pinned?: boolean;
  filtered?: unknown[];
  content: string;
  reblog: MastodonStatus | null;
  account: MastodonAccount;
  media_attachments: unknown[];
  mentions: unknown[];
  tags: unknown[];
  emojis: unknown[];
  card: unknown | null;
  poll: unknown | null;
}

/** REST::AccountSerializer (`nested`: inside another account, as `moved`). */
export function serializeAccount(store: Store, a: AccountRow, nested = false): MastodonAccount {
  const local = a.domain === null;
  const missingAvatar = `${store.publicBase}/avatars/original/missing.png`;
  const missingHeader = `${store.publicBase}/headers/original/missing.png`;
  // Attribute order as REST::AccountSerializer writes it; version-gated keys as added upstream.
  const out: MastodonAccount = {
    id: a.id,
    username: a.username,
    acct: store.acctOf(a),
    display_name: a.displayName,
    locked: a.locked,
    bot: a.bot,
    discoverable: a.discoverable,
    ...(store.atLeast(4, 2) ? { indexable: a.indexable } : {}),
    group: false,
    created_at: midnight(a.createdAt),
    note: a.note,
    url: store.profileUrlOf(a),
    uri: store.uriOf(a),
    avatar: missingAvatar,
    avatar_static: missingAvatar,
    header: missingHeader,
    header_static: missingHeader,
    followers_count: local ? a.followers.length : a.reportedFollowers,
    following_count: local ? a.following.length : a.reportedFollowing,
    statuses_count: a.statusesCount,
    last_status_at: null,
    ...(store.atLeast(4, 1) ? { hide_collections: a.hideCollections } : {}),
    ...(local ? { noindex: false } : {}),
    emojis: [],
    ...(local && store.atLeast(4, 1) ? { roles: [] } : {}),
    fields: [],
  };
  // has_one :moved_to_account, key: :moved, if: :moved_and_not_nested? — absent unless moved.
  if (!nested && a.movedToAccountId !== null) {
    const target = store.accounts.get(a.movedToAccountId);
    out.moved = target ? serializeAccount(store, target, true) : null;
  }
  return out;
}

/** REST::CredentialAccountSerializer: the account as its owner sees it (verify_credentials). */
export function serializeCredentialAccount(store: Store, a: AccountRow): MastodonCredentialAccount {
  const source: MastodonCredentialAccount["source"] = {
    privacy: "public",
    sensitive: false,
    language: null,
    note: a.note.replace(/<[^>]*>/g, ""),
    fields: [],
    follow_requests_count: Math.min(store.pendingRequestsTo(a), 40),
  };
  if (store.atLeast(4, 2)) {
    source.hide_collections = a.hideCollections;
    source.discoverable = a.discoverable;
    source.indexable = a.indexable;
  }
  return {
    ...serializeAccount(store, a),
    source,
    role: { id: "-99", name: "", permissions: "65536", color: "", highlighted: false },
  };
}

/** REST::StatusSerializer (4.x attribute order), as seen by `viewer`. */
export function serializeStatus(
  store: Store,
  st: StatusRow,
  viewer: AccountRow | null,
): MastodonStatus {
  const author = store.accounts.get(st.accountId)!;
  const own = viewer !== null && viewer.id === author.id;
  return {
    id: st.id,
    created_at: st.createdAt.toISOString(),
    in_reply_to_id: null,
    in_reply_to_account_id: null,
    sensitive: false,
    spoiler_text: "",
    visibility: st.visibility,
    language: st.language,
    uri: st.uri,
    url: st.url,
    replies_count: 0,
    reblogs_count: 0,
    favourites_count: 0,
    ...(store.atLeast(3, 5) ? { edited_at: null } : {}),
    ...(viewer
      ? {
          favourited: false,
          reblogged: false,
          muted: false,
          bookmarked: store.bookmarked(viewer, st),
        }
      : {}),
    ...(own && st.visibility !== "direct" ? { pinned: false } : {}),
    ...(viewer && store.atLeast(4, 0) ? { filtered: [] } : {}),
    content: st.content,
    reblog: null,
    account: serializeAccount(store, author),
    media_attachments: [],
    mentions: [],
    tags: [],
    emojis: [],
    card: null,
    poll: null,
  };
}

/** REST::RelationshipSerializer */
export function serializeRelationship(
  store: Store,
  me: AccountRow,
  other: AccountRow,
): MastodonRelationship {
  const following = store.followOf(me, other);
  const requested = store.requestOf(me, other);
  const opts = following ?? requested;
  const mute = store.muteOf(me, other);
  // Key order as REST::RelationshipSerializer writes it.
  return {
    id: other.id,
    following: following !== undefined,
    showing_reblogs: opts?.showReblogs ?? false,
    notifying: opts?.notify ?? false,
    ...(store.atLeast(4, 0) ? { languages: opts?.languages ?? null } : {}),
    followed_by: store.followOf(other, me) !== undefined,
    blocking: store.blockOf(me, other) !== undefined,
    blocked_by: store.blockOf(other, me) !== undefined,
    muting: mute !== undefined,
    muting_notifications: mute?.hideNotifications ?? false,
    requested: requested !== undefined,
    ...(store.atLeast(4, 1) ? { requested_by: store.requestOf(other, me) !== undefined } : {}),
    domain_blocking: store.domainBlocking(me, other),
    endorsed: false,
    note: "",
  };
}

/** `object.created_at.midnight.as_json` */
function midnight(d: Date): string {
  const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  return m.toISOString();
}
