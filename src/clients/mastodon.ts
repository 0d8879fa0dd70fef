/**
 * The old account's Mastodon server, read with the user's token.
 * masto carries the typed one-off calls; the long lists are paged here over our
 * own HTTP layer, because an export must be able to resume from a saved cursor
 * and masto's paginator keeps its cursor to itself.
 */
import { createRestAPIClient, MastoHttpError, MastoTimeoutError } from "masto";
import { z } from "zod";
import { BadResponseError, RejectedError, RemoteError, TimeoutError } from "../net/errors.js";
import { type Http, translate } from "../net/http.js";

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

  /** Who the token belongs to. Through masto, so its types describe the answer. */
  async verifyCredentials(): Promise<Account> {
    const masto = createRestAPIClient({
      url: this.origin,
      accessToken: this.token,
      timeout: this.timeoutMs,
      requestInit: this.http.requestInit,
    });
    const host = new URL(this.origin).host;
    try {
      const me = await masto.v1.accounts.verifyCredentials();
      // masto hands back camelCase; our schema is the wire's snake_case, checked either way.
      const parsed = AccountSchema.safeParse({
        id: me.id,
        username: me.username,
        acct: me.acct,
        url: me.url,
        display_name: me.displayName,
        locked: me.locked,
        followers_count: me.followersCount,
        following_count: me.followingCount,
        moved: me.moved ? { acct: me.moved.acct, url: me.moved.url } : me.moved,
      });
      if (!parsed.success) throw new BadResponseError(`${host} sent an unexpected account`, host);
      return parsed.data;
    } catch (err) {
      throw fromMasto(err, host);
    }
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
    const res = await this.http.json(url, schema, { token: this.token });
    return { items: res.data, next: res.next };
  }

  /** The public profile by handle; no token needed (the old account's token stops working after a Move). */
  async lookup(username: string): Promise<Account> {
    const res = await this.http.json(
      `${this.origin}/api/v1/accounts/lookup?acct=${encodeURIComponent(username)}`,
      AccountSchema,
      this.token ? { token: this.token } : {},
    );
    return res.data;
  }

  async relationships(ids: readonly string[]): Promise<Relationship[]> {
    if (ids.length === 0) return [];
    const qs = ids.map((id) => `id[]=${encodeURIComponent(id)}`).join("&");
    const res = await this.http.json(
      `${this.origin}/api/v1/accounts/relationships?${qs}`,
      z.array(RelationshipSchema),
      { token: this.token },
    );
    return res.data;
  }
}

/** masto's errors, translated into ours once, with the cause kept. */
function fromMasto(err: unknown, host: string): RemoteError {
  if (err instanceof RemoteError) return err;
  if (err instanceof MastoHttpError) {
    if (err.statusCode >= 500) {
      return new BadResponseError(
        `${host} is having trouble (HTTP ${err.statusCode})`,
        host,
        err.statusCode,
      );
    }
    return new RejectedError(`${host} refused: ${err.message}`, host, err.statusCode, err.message);
  }
  if (err instanceof MastoTimeoutError)
    return new TimeoutError(`${host} did not answer in time`, host, { cause: err });
  // masto throws its own error for a body it can't decode: an HTML page, so probably not Mastodon.
  if (err instanceof Error && /encoding|deserializ|JSON/i.test(`${err.name} ${err.message}`)) {
    return new BadResponseError(`${host} doesn't answer like a Mastodon server`, host);
  }
  return translate(err, host);
}
