/**
 * The old account's Mastodon server, read with the user's token, over our own
 * HTTP layer (`Http.json`). The long lists are paged by their Link header, one
 * page at a time, because an export must be able to resume from a saved cursor.
 */
import { z } from "zod";
import { BODY_LIMITS } from "../net/body-limits.js";
import type { Http } from "../net/http.js";

export const AccountSchema = z.object({
  id: z.string(),
  username: z.string(),
  acct: z.string(),
  url: z.string().nullish(),
  display_name: z.string().nullish(),
  locked: z.boolean().optional(),
  followers_count: z.number().optional(),
  following_count: z.number().optional(),
  moved: z.object({ acct: z.string(), url: z.string().nullish() }).nullish(),
});
export type Account = z.infer<typeof AccountSchema>;

/**
 * An account whose follower count is read as a count: Mastodon always sends it, and an
 * answer without one (or a fork's -1 for a hidden count) is no count. A count that is
 * missing is unknown, never 0: a watcher that took it for 0 would report "0 of 0 followers".
 */
export const CountedAccountSchema = AccountSchema.extend({
  followers_count: z.number().int().min(0),
});

export const RelationshipSchema = z.object({
  id: z.string(),
  following: z.boolean().optional(),
  showing_reblogs: z.boolean().optional(),
  notifying: z.boolean().optional(),
  languages: z.array(z.string()).nullish(),
  muting_notifications: z.boolean().optional(),
});

export const ListSchema = z.object({ id: z.string(), title: z.string() });
export const StatusUriSchema = z.object({ id: z.string(), uri: z.string() });
export type Relationship = z.infer<typeof RelationshipSchema>;

export class MastodonAccountClient {
  constructor(
    private readonly http: Http,
    readonly origin: string,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {}

  /** Who the token belongs to, with the follower count the move is measured against. */
  async verifyCredentials(): Promise<z.infer<typeof CountedAccountSchema>> {
    const res = await this.http.json(
      `${this.origin}/api/v1/accounts/verify_credentials`,
      CountedAccountSchema,
      {
        token: this.token,
        timeoutMs: this.timeoutMs,
        what: { data: "JSON", item: "an account" },
        maxBytes: BODY_LIMITS.account,
      },
    );
    return res.data;
  }

  /** One page of follows; pass the returned `next` URL to continue. */
  async followingPage(
    accountId: string,
    next?: string,
  ): Promise<{ accounts: Account[]; next?: string }> {
    const path = `/api/v1/accounts/${encodeURIComponent(accountId)}/following?limit=80`;
    const page = await this.page(next ?? path, z.array(AccountSchema));
    return { accounts: page.items, next: page.next };
  }

  /**
   * One page of any Link-paginated collection: a path on this server for the
   * first page, or the `next` URL from the page before.
   */
  async page<S extends z.ZodType<unknown[]>>(
    pathOrNext: string,
    schema: S,
  ): Promise<{ items: z.infer<S>; next?: string }> {
    const url = pathOrNext.startsWith("/") ? `${this.origin}${pathOrNext}` : pathOrNext;
    const res = await this.http.json(url, schema, {
      token: this.token,
      maxBytes: BODY_LIMITS.page,
    });
    return { items: res.data, next: res.next };
  }

  /** The public profile by handle; no token needed (the old account's token stops working after a Move). */
  async lookup(username: string): Promise<Account> {
    const res = await this.http.json(
      `${this.origin}/api/v1/accounts/lookup?acct=${encodeURIComponent(username)}`,
      AccountSchema,
      { maxBytes: BODY_LIMITS.account, ...(this.token ? { token: this.token } : {}) },
    );
    return res.data;
  }

  async relationships(ids: readonly string[]): Promise<Relationship[]> {
    if (ids.length === 0) return [];
    const qs = ids.map((id) => `id[]=${encodeURIComponent(id)}`).join("&");
    const res = await this.http.json(
      `${this.origin}/api/v1/accounts/relationships?${qs}`,
      z.array(RelationshipSchema),
      { token: this.token, maxBytes: BODY_LIMITS.page },
    );
    return res.data;
  }
}
