/**
 * The bot's own Mastodon account, over the bot's one HTTP door (Http: the network guard, the
 * pacer reading X-RateLimit-* headers, timeouts and retries): who it is, what the server
 * allows (instance v2: max_characters, characters_reserved_per_url, the streaming URL), the
 * bot flag and the 4.3 notification policy, mention notifications, statuses.
 *
 * Scopes: read:notifications read:statuses write:statuses write:accounts write:notifications
 * (docs: methods/notifications.md, methods/statuses.md, methods/accounts.md#update_credentials).
 */
import { z } from "zod";
import { elide, REMOTE_TEXT_MAX } from "../../chat/text.js";
import { RejectedError } from "../../net/errors.js";
import type { Http } from "../../net/http.js";

export const AccountSchema = z.object({
  id: z.string(),
  username: z.string(),
  acct: z.string(),
  url: z.string().nullish(),
  /** The actor id (4.2+): who this person is, across servers and renames. */
  uri: z.string().optional(),
  bot: z.boolean().optional(),
});
export type Account = z.infer<typeof AccountSchema>;

export const StatusSchema = z.object({
  id: z.string(),
  visibility: z.string(),
  content: z.string(),
  in_reply_to_id: z.string().nullish(),
  account: AccountSchema,
  mentions: z
    .array(z.object({ id: z.string(), username: z.string(), acct: z.string(), url: z.string() }))
    .default([]),
});
export type Status = z.infer<typeof StatusSchema>;

export const NotificationSchema = z.object({
  id: z.string(),
  type: z.string(),
  account: AccountSchema,
  status: StatusSchema.nullish(),
});
export type Notification = z.infer<typeof NotificationSchema>;

const InstanceSchema = z.object({
  version: z.string(),
  configuration: z
    .object({
      urls: z.object({ streaming: z.string().nullish() }).partial().optional(),
      statuses: z
        .object({
          max_characters: z.number().int().positive(),
          characters_reserved_per_url: z.number().int().positive(),
        })
        .partial()
        .optional(),
    })
    .optional(),
});

export interface ServerRules {
  version: string;
  maxCharacters: number;
  charactersPerUrl: number;
  /** Where the streaming API is, when the server says (else the API's own origin). */
  streaming?: string;
}

export interface Posted {
  status: Status;
  /** X-RateLimit-Remaining of the answer: how many more posts (or requests) the window allows. */
  remaining?: number;
  resetAt?: Date;
}

const PolicySchema = z.record(z.string(), z.unknown());

/** The server refused the bot account's token (401): revoked, or not a token at all. */
export class MastodonTokenRefused extends Error {
  override readonly name = "MastodonTokenRefused";
  constructor(server: string, description: string) {
    super(
      `${server} refused the bot account's token ("${elide(description, REMOTE_TEXT_MAX)}"): ` +
        "it was revoked or is wrong. " +
        "Make a new one on the bot account (Preferences → Development → the app → Regenerate, " +
        "or a new app with the same scopes), set MASTODON_BOT_TOKEN to it, and start the bot again.",
    );
  }
}

export class BotApi {
  private refused = false;

  constructor(
    private readonly http: Http,
    readonly origin: string,
    private readonly token: string,
    /** Told once when the server refuses the token: nothing here works until it is replaced. */
    private readonly onTokenRefused?: (err: MastodonTokenRefused) => void,
  ) {}

  /** A call whose 401 says the token is refused: told once, and thrown as it was. */
  private async guarded<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      if (err instanceof RejectedError && err.status === 401 && !this.refused) {
        this.refused = true;
        this.onTokenRefused?.(new MastodonTokenRefused(new URL(this.origin).host, err.detail));
      }
      throw err;
    }
  }

  private get auth() {
    return { token: this.token };
  }

  async me(): Promise<Account> {
    const res = await this.guarded(
      this.http.json(`${this.origin}/api/v1/accounts/verify_credentials`, AccountSchema, this.auth),
    );
    return res.data;
  }

  /** The server's limits: /api/v2/instance (4.0+), else Mastodon's defaults (500, 23). */
  async rules(): Promise<ServerRules> {
    const res = await this.guarded(
      this.http.json(`${this.origin}/api/v2/instance`, InstanceSchema, {
        ...this.auth,
        allow: [404],
      }),
    );
    const c = res.ok ? res.data.configuration : undefined;
    return {
      version: res.ok ? res.data.version : "0.0.0",
      maxCharacters: c?.statuses?.max_characters ?? 500,
      charactersPerUrl: c?.statuses?.characters_reserved_per_url ?? 23,
      ...(c?.urls?.streaming ? { streaming: c.urls.streaming } : {}),
    };
  }

  /** PATCH update_credentials bot=true: "this account is automated". */
  async markBot(): Promise<void> {
    await this.guarded(
      this.http.json(`${this.origin}/api/v1/accounts/update_credentials`, AccountSchema, {
        ...this.auth,
        method: "PATCH",
        form: { bot: "true" },
        idempotent: true,
      }),
    );
  }

  /**
   * 4.3+: accept private mentions and people the bot doesn't follow (the default filters a
   * stranger's direct message into "notification requests"). Null before 4.3 (no policy).
   */
  async acceptDirectMessages(): Promise<Record<string, unknown> | null> {
    const res = await this.guarded(
      this.http.json(`${this.origin}/api/v2/notifications/policy`, PolicySchema, {
        ...this.auth,
        method: "PATCH",
        form: {
          for_private_mentions: "accept",
          for_not_following: "accept",
          for_new_accounts: "accept",
        },
        idempotent: true,
        allow: [404],
      }),
    );
    return res.ok ? res.data : null;
  }

  /**
   * Mentions newer than `minId`, oldest first (min_id pages forward from the cursor);
   * `include_filtered` so a 4.3 server's filter can't hide a direct message from the bot.
   */
  async mentionsAfter(minId: string | null, limit = 80): Promise<Notification[]> {
    const q = new URLSearchParams({
      "types[]": "mention",
      limit: String(limit),
      include_filtered: "true",
    });
    if (minId) q.set("min_id", minId);
    const res = await this.guarded(
      this.http.json(
        `${this.origin}/api/v1/notifications?${q}`,
        z.array(NotificationSchema),
        this.auth,
      ),
    );
    return [...res.data].sort((a, b) => compareIds(a.id, b.id));
  }

  /** The newest mention's id, where a first start begins. */
  async newestMention(): Promise<string | undefined> {
    const q = new URLSearchParams({ "types[]": "mention", limit: "1", include_filtered: "true" });
    const res = await this.guarded(
      this.http.json(
        `${this.origin}/api/v1/notifications?${q}`,
        z.array(NotificationSchema),
        this.auth,
      ),
    );
    return res.data[0]?.id;
  }

  async status(id: string): Promise<Status | undefined> {
    const res = await this.guarded(
      this.http.json(`${this.origin}/api/v1/statuses/${encodeURIComponent(id)}`, StatusSchema, {
        ...this.auth,
        allow: [404],
      }),
    );
    return res.ok ? res.data : undefined;
  }

  /** A direct status; the key makes a retry return the status already posted (kept an hour). */
  async post(
    text: string,
    o: { inReplyTo: string | null; idempotencyKey: string },
  ): Promise<Posted | { refused: number; detail: string }> {
    const form: Record<string, string> = { status: text, visibility: "direct" };
    if (o.inReplyTo) form.in_reply_to_id = o.inReplyTo;
    const res = await this.guarded(
      this.http.json(`${this.origin}/api/v1/statuses`, StatusSchema, {
        ...this.auth,
        method: "POST",
        form,
        headers: { "Idempotency-Key": o.idempotencyKey },
        idempotent: true,
        allow: [404, 422],
      }),
    );
    if (!res.ok) return { refused: res.status, detail: res.detail };
    const remaining = res.headers.get("x-ratelimit-remaining");
    const reset = res.headers.get("x-ratelimit-reset");
    return {
      status: res.data,
      ...(remaining !== null && /^\d+$/.test(remaining) ? { remaining: Number(remaining) } : {}),
      ...(reset ? { resetAt: new Date(reset) } : {}),
    };
  }
}

/** Mastodon ids are decimal strings of any length: compared as numbers. */
export function compareIds(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}
