/**
 * Posting statuses in the Mastodon stand-in, as PostStatusService and the models around it do:
 *
 * - Idempotency-Key: the first status posted with a key is kept in Redis for an hour
 *   (`redis.setex("idempotency:status:#{account.id}:#{key}", 3_600, status.id)`), and the same
 *   key from the same account within that hour returns that status instead of posting again
 *   (PostStatusService#with_idempotency); it is checked before anything is validated.
 * - Text is required (without media); the length is checked for local statuses only
 *   (StatusLengthValidator, mastodon-status-text.ts) against configuration.statuses.max_characters.
 * - Mentions come from the text alone (ProcessMentionsService): `@user` and `@user@domain`
 *   naming an account this server knows; a direct status reaches only those accounts.
 * - `in_reply_to_id` is Status.find: 404 when there is no such status.
 * - RateLimiter family :statuses, 300 per 3 hours per local account, in a fixed window keyed on
 *   epoch/period (app/lib/rate_limiter.rb); past it, 429 "Too many requests". The create
 *   action carries the family's X-RateLimit-* headers unless Rack::Attack's are tighter
 *   (override_rate_limit_headers :create, family: :statuses).
 *
 * Every mention of a local account goes through NotifyService (mastodon-notifications.ts) and,
 * unless filtered, out to that account's streams.
 */

import { z } from "zod";
import { type MastodonStatus, serializeStatus } from "./mastodon-entities.js";
import type { NotificationRow, Notifications } from "./mastodon-notifications.js";
import type { AccountRow, StatusRow } from "./mastodon-rows.js";
import { countableLength, entities, formatStatus } from "./mastodon-status-text.js";
import type { Store } from "./mastodon-store.js";
import { iso8601Micro, resetAt } from "./mastodon-throttle.js";

export const VISIBILITIES = ["public", "unlisted", "private", "direct"] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export interface StatusLimitConfig {
  limit: number;
  /** Default 3 hours. */
  periodMs?: number;
}
export const StatusLimitSchema = z.object({
  limit: z.number().int().min(0),
  periodMs: z.number().int().positive().optional(),
});
const DEFAULT_STATUS_LIMIT = { limit: 300, periodMs: 3 * 3_600_000 };
const IDEMPOTENCY_MS = 3_600_000;

export interface PostInput {
  text: string;
  visibility?: Visibility;
  inReplyToId?: string | null;
  spoilerText?: string;
  idempotencyKey?: string;
}

/** Why a post was refused, as the API says it. */
export type PostRefusal = { status: 404 | 422 | 429; error: string };

interface Extras {
  inReplyToId: string | null;
  mentions: string[];
  spoilerText: string;
}

/** Receives every notification written, for the streaming API. */
export type NotificationListener = (row: NotificationRow) => void;

export class Posting {
  private readonly extras = new Map<string, Extras>();
  private readonly idempotency = new Map<string, { statusId: string; until: number }>();
  private limit: { limit: number; periodMs: number } | null = DEFAULT_STATUS_LIMIT;
  private readonly counts = new Map<string, number>();
  private readonly listeners = new Set<NotificationListener>();

  constructor(
    private readonly store: Store,
    private readonly notifications: Notifications,
    private readonly clock: () => number,
    readonly maxCharacters: number,
  ) {}

  onNotification(listener: NotificationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resets the counters; null: unlimited (and no family headers). */
  setStatusLimit(config: StatusLimitConfig | null): void {
    this.counts.clear();
    if (config === null) {
      this.limit = null;
      return;
    }
    const c = StatusLimitSchema.parse(config);
    this.limit = { limit: c.limit, periodMs: c.periodMs ?? DEFAULT_STATUS_LIMIT.periodMs };
  }

  /** The family's X-RateLimit-* headers for this account now, or null when unlimited. */
  limitHeaders(account: AccountRow): Record<string, string> | null {
    if (!this.limit) return null;
    const now = this.clock();
    const count = this.counts.get(this.windowKey(account, now)) ?? 0;
    return {
      "X-RateLimit-Limit": String(this.limit.limit),
      "X-RateLimit-Remaining": String(Math.max(0, this.limit.limit - count)),
      "X-RateLimit-Reset": iso8601Micro(resetAt(now, this.limit.periodMs)),
    };
  }

  private windowKey(account: AccountRow, now: number): string {
    return `${account.id}:${Math.floor(now / this.limit!.periodMs)}`;
  }

  /** PostStatusService#call: the status (a new one, or the one its idempotency key names). */
  post(author: AccountRow, input: PostInput): StatusRow | PostRefusal {
    const now = this.clock();
    const key = input.idempotencyKey ? `${author.id}:${input.idempotencyKey}` : undefined;
    const earlier = key ? this.idempotency.get(key) : undefined;
    if (earlier && earlier.until > now) return this.store.statuses.get(earlier.statusId)!;

    const text = input.text ?? "";
    const spoilerText = input.spoilerText ?? "";
    if (text.trim() === "") return { status: 422, error: "Validation failed: Text can't be blank" };
    let inReplyTo: StatusRow | undefined;
    if (input.inReplyToId) {
      inReplyTo = this.store.statuses.get(input.inReplyToId.trim());
      if (!inReplyTo) return { status: 404, error: "Record not found" };
    }
    const local = author.domain === null;
    if (local && countableLength(text, spoilerText) > this.maxCharacters) {
      return {
        status: 422,
        error: `Validation failed: Text character limit of ${this.maxCharacters} exceeded`,
      };
    }
    if (local && this.limit) {
      const windowKey = this.windowKey(author, now);
      const count = this.counts.get(windowKey) ?? 0;
      if (count >= this.limit.limit) return { status: 429, error: "Too many requests" };
      this.counts.set(windowKey, count + 1);
    }

    const mentioned = this.mentionedIn(text, author);
    const row = this.store.createStatus({
      accountId: author.id,
      uri: "",
      url: null,
      content: formatStatus(text, (username, domain) => {
        const a = this.resolve(username, domain, author);
        return a ? this.store.profileUrlOf(a) : null;
      }),
      createdAt: new Date(now),
      visibility: input.visibility ?? "public",
      language: "en",
    });
    // The URI is the status id's (ActivityPub::TagManager#uri_for); the row was made first.
    this.store.statusesByUri.delete("");
    row.uri =
      author.domain === null
        ? this.store.localStatusUri(author, row.id)
        : `https://${author.domain}/users/${author.username}/statuses/${row.id}`;
    row.url = `${this.store.profileUrlOf(author)}/${row.id}`;
    this.store.statusesByUri.set(row.uri, row);
    this.extras.set(row.id, {
      inReplyToId: inReplyTo?.id ?? null,
      mentions: mentioned.map((a) => a.id),
      spoilerText,
    });
    if (key) this.idempotency.set(key, { statusId: row.id, until: now + IDEMPOTENCY_MS });

    const thread = {
      inReplyTo: (s: StatusRow) => {
        const id = this.extras.get(s.id)?.inReplyToId;
        return id ? this.store.statuses.get(id) : undefined;
      },
      mentions: (s: StatusRow) => this.extras.get(s.id)?.mentions ?? [],
    };
    for (const account of mentioned) {
      const n = this.notifications.mention(account, row, thread);
      if (n && !n.filtered) for (const listener of this.listeners) listener(n);
    }
    return row;
  }

  /** The accounts the text mentions that this server knows, once each, in order. */
  private mentionedIn(text: string, author: AccountRow): AccountRow[] {
    const out: AccountRow[] = [];
    for (const e of entities(text)) {
      if (e.kind !== "mention") continue;
      const a = this.resolve(e.username!, e.domain ?? null, author);
      if (a && !out.includes(a)) out.push(a);
    }
    return out;
  }

  /** A mention's account: `@user` is local for a local author, on the author's domain for a remote one. */
  private resolve(
    username: string,
    domain: string | null,
    author: AccountRow,
  ): AccountRow | undefined {
    if (domain === null) {
      return this.store.findByAcct(
        author.domain === null ? username : `${username}@${author.domain}`,
      );
    }
    return this.store.findByAcct(`${username}@${domain}`);
  }

  /** StatusPolicy#show? for the statuses this module writes: direct ones to their author and mentions. */
  visibleTo(status: StatusRow, viewer: AccountRow | undefined): boolean {
    if (status.visibility !== "direct" && status.visibility !== "private") return true;
    if (!viewer) return false;
    return (
      viewer.id === status.accountId ||
      (this.extras.get(status.id)?.mentions ?? []).includes(viewer.id)
    );
  }

  /** REST::StatusSerializer with the reply, mentions and spoiler this module keeps. */
  serialize(status: StatusRow, viewer: AccountRow | null): MastodonStatus {
    const base = serializeStatus(this.store, status, viewer);
    const extra = this.extras.get(status.id);
    if (!extra) return base;
    const parent = extra.inReplyToId ? this.store.statuses.get(extra.inReplyToId) : undefined;
    return {
      ...base,
      in_reply_to_id: parent?.id ?? null,
      in_reply_to_account_id: parent?.accountId ?? null,
      spoiler_text: extra.spoilerText,
      mentions: extra.mentions.map((id) => {
        const a = this.store.accounts.get(id)!;
        return {
          id: a.id,
          username: a.username,
          url: this.store.profileUrlOf(a),
          acct: this.store.acctOf(a),
        };
      }),
    };
  }

  /** The statuses that mention `account`, oldest first, as that account would be shown them. */
  mentioning(account: AccountRow): MastodonStatus[] {
    return [...this.store.statuses.values()]
      .filter((s) => this.extras.get(s.id)?.mentions.includes(account.id))
      .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
      .map((s) => this.serialize(s, account));
  }
}
