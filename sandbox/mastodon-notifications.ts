/**
 * Notifications in the Mastodon stand-in: the rows NotifyService writes for a mention, the
 * 4.3 notification policy that filters or drops them, and the list the API serves.
 *
 * - Ids are a bigserial (Notification is not a snowflake table): strictly increasing.
 * - NotificationPolicy (4.3+, app/models/notification_policy.rb): for_not_following,
 *   for_not_followers, for_new_accounts, for_private_mentions, for_limited_accounts, each
 *   accept / filter / drop. A new policy filters private mentions and limited accounts and
 *   accepts the rest. NotifyService's conditions: a private mention is filtered when the
 *   recipient doesn't follow the sender and it isn't a reply to a thread where the recipient
 *   mentioned the sender; `not_following` and `not_follower` (following for under 3 days
 *   counts as not) and new accounts (under 30 days) as their columns say. `drop` writes no
 *   row, `filter` writes a filtered one, which the list hides unless `include_filtered` and
 *   the streaming API never sends. Before 4.3 nothing is filtered.
 * - GET /api/v1/notifications: `to_a_paginated_by_id(limit, max_id, since_id, min_id)` newest
 *   first; limit 40, at most 80 (4.1+); types[], exclude_types[], account_id; Link `next`
 *   (max_id = last) and `prev` (min_id = first) whenever the page isn't empty, carrying
 *   limit, account_id, types[] and exclude_types[] (Api::V1::NotificationsController).
 */

import { z } from "zod";
import { serializeAccount } from "./mastodon-entities.js";
import { cgiEscape } from "./mastodon-http.js";
import type { AccountRow, StatusRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

export const POLICY_VALUES = ["accept", "filter", "drop"] as const;
export type PolicyValue = (typeof POLICY_VALUES)[number];
export const POLICY_KEYS = [
  "for_not_following",
  "for_not_followers",
  "for_new_accounts",
  "for_private_mentions",
  "for_limited_accounts",
] as const;
export type PolicyKey = (typeof POLICY_KEYS)[number];
export type Policy = Record<PolicyKey, PolicyValue>;

export const PolicyPatchSchema = z.partialRecord(z.enum(POLICY_KEYS), z.enum(POLICY_VALUES));

const DEFAULT_POLICY: Policy = {
  for_not_following: "accept",
  for_not_followers: "accept",
  for_new_accounts: "accept",
  for_private_mentions: "filter",
  for_limited_accounts: "filter",
};

const DAY_MS = 24 * 3_600_000;
const NEW_ACCOUNT_MS = 30 * DAY_MS;
const NEW_FOLLOWER_MS = 3 * DAY_MS;

export interface NotificationRow {
  id: number;
  /** The recipient. */
  accountId: string;
  fromAccountId: string;
  type: "mention";
  statusId: string;
  createdAt: Date;
  filtered: boolean;
}

/** What the mention rule needs to know about a status: its thread and who it mentions. */
export interface Thread {
  inReplyTo(status: StatusRow): StatusRow | undefined;
  mentions(status: StatusRow): readonly string[];
}

export class Notifications {
  private nextId = 3_001;
  private readonly rows: NotificationRow[] = [];
  private readonly policies = new Map<string, Policy>();

  constructor(
    private readonly store: Store,
    private readonly clock: () => number,
  ) {}

  policyOf(account: AccountRow): Policy {
    return { ...(this.policies.get(account.id) ?? DEFAULT_POLICY) };
  }

  updatePolicy(account: AccountRow, patch: Partial<Policy>): Policy {
    const next = { ...this.policyOf(account), ...patch };
    this.policies.set(account.id, next);
    return { ...next };
  }

  /**
   * NotifyService for a mention of `recipient` in `status`: the row it writes, or null when
   * it writes none (a remote recipient, a block, a mute, a policy that drops it).
   */
  mention(recipient: AccountRow, status: StatusRow, thread: Thread): NotificationRow | null {
    const sender = this.store.accounts.get(status.accountId)!;
    if (recipient.domain !== null || recipient.id === sender.id) return null;
    if (this.store.blockOf(recipient, sender) || this.store.muteOf(recipient, sender)) return null;
    const verdict = this.store.atLeast(4, 3)
      ? this.judge(recipient, sender, status, thread)
      : "accept";
    if (verdict === "drop") return null;
    const row: NotificationRow = {
      id: this.nextId++,
      accountId: recipient.id,
      fromAccountId: sender.id,
      type: "mention",
      statusId: status.id,
      createdAt: new Date(this.clock()),
      filtered: verdict === "filter",
    };
    this.rows.push(row);
    return row;
  }

  /** The strictest outcome of the policy's conditions that apply (drop over filter). */
  private judge(
    recipient: AccountRow,
    sender: AccountRow,
    status: StatusRow,
    thread: Thread,
  ): PolicyValue {
    const p = this.policyOf(recipient);
    const now = this.clock();
    const notFollowing = this.store.followOf(recipient, sender) === undefined;
    const follow = this.store.followOf(sender, recipient);
    const notFollower = !follow || follow.createdAt.getTime() > now - NEW_FOLLOWER_MS;
    const newAccount = sender.createdAt.getTime() > now - NEW_ACCOUNT_MS;
    const privateMention =
      status.visibility === "direct" && !this.inResponse(recipient, sender, status, thread);
    const applying: PolicyValue[] = [];
    if (notFollowing) applying.push(p.for_not_following);
    if (notFollower) applying.push(p.for_not_followers);
    if (newAccount && notFollowing) applying.push(p.for_new_accounts);
    if (privateMention && notFollowing) applying.push(p.for_private_mentions);
    if (applying.includes("drop")) return "drop";
    return applying.includes("filter") ? "filter" : "accept";
  }

  /** A reply in a thread where the recipient mentioned the sender (response_to_recipient?). */
  private inResponse(
    recipient: AccountRow,
    sender: AccountRow,
    status: StatusRow,
    thread: Thread,
  ): boolean {
    for (let s = thread.inReplyTo(status); s; s = thread.inReplyTo(s)) {
      if (s.accountId === recipient.id && thread.mentions(s).includes(sender.id)) return true;
    }
    return false;
  }

  /** The recipient's rows matching the list's filters, ascending by id. */
  visible(
    account: AccountRow,
    o: {
      types: string[];
      excludeTypes: string[];
      fromAccountId?: string;
      includeFiltered: boolean;
    },
  ): NotificationRow[] {
    return this.rows.filter(
      (n) =>
        n.accountId === account.id &&
        (o.includeFiltered || !n.filtered) &&
        (o.types.length === 0 || o.types.includes(n.type)) &&
        !o.excludeTypes.includes(n.type) &&
        (o.fromAccountId === undefined || n.fromAccountId === o.fromAccountId),
    );
  }

  find(account: AccountRow, id: string): NotificationRow | undefined {
    return this.rows.find((n) => n.accountId === account.id && String(n.id) === id.trim());
  }

  /** How many filtered notifications the policy holds back (its summary). */
  pendingOf(account: AccountRow): { requests: number; notifications: number } {
    const held = this.rows.filter((n) => n.accountId === account.id && n.filtered);
    return {
      requests: new Set(held.map((n) => n.fromAccountId)).size,
      notifications: held.length,
    };
  }
}

/** REST::NotificationSerializer (4.3 adds group_key). */
export function serializeNotification(
  store: Store,
  n: NotificationRow,
  status: unknown,
): Record<string, unknown> {
  return {
    id: String(n.id),
    type: n.type,
    created_at: n.createdAt.toISOString(),
    ...(store.atLeast(4, 3) ? { group_key: `ungrouped-${n.id}` } : {}),
    account: serializeAccount(store, store.accounts.get(n.fromAccountId)!),
    status,
  };
}

/** The Link header of the notifications list: next and prev whenever the page isn't empty. */
export function notificationsLink(
  base: string,
  kept: { limit?: string; account_id?: string; types: string[]; exclude_types: string[] },
  page: readonly NotificationRow[],
): string | null {
  if (page.length === 0) return null;
  const query = (cursor: Record<string, string>) => {
    const parts: string[] = [];
    if (kept.account_id !== undefined) parts.push(`account_id=${cgiEscape(kept.account_id)}`);
    for (const t of kept.exclude_types) parts.push(`exclude_types%5B%5D=${cgiEscape(t)}`);
    if (kept.limit !== undefined) parts.push(`limit=${cgiEscape(kept.limit)}`);
    for (const [k, v] of Object.entries(cursor)) parts.push(`${k}=${cgiEscape(v)}`);
    for (const t of kept.types) parts.push(`types%5B%5D=${cgiEscape(t)}`);
    return parts.join("&");
  };
  const next = `<${base}?${query({ max_id: String(page.at(-1)!.id) })}>; rel="next"`;
  const prev = `<${base}?${query({ min_id: String(page[0]!.id) })}>; rel="prev"`;
  return `${next}, ${prev}`;
}
