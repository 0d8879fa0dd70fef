/**
 * A Mastodon-API server as the new account (Mastodon, GoToSocial, Akkoma…):
 * resolve each handle with search (resolve=true WebFingers unknown accounts),
 * then follow with the options the old account had. The server's 400-a-day
 * follow limit answers 429 with its reset, which the pacer then waits for.
 */
import { z } from "zod";
import { normalHandle, withDomain } from "../model/handle.js";
import type { FollowRow } from "../model/state.js";
import { BODY_LIMITS } from "../net/body-limits.js";
import { RejectedError } from "../net/errors.js";
import type { Http, HttpResponse } from "../net/http.js";
import {
  type Account,
  AccountSchema,
  CountedAccountSchema,
  RelationshipSchema,
} from "./mastodon.js";
import type { FollowResult, NewAccount } from "./new-account.js";

const Search = z.object({ accounts: z.array(AccountSchema) });
const FollowAnswer = RelationshipSchema.extend({ requested: z.boolean().optional() });

export class MastodonTarget implements NewAccount {
  readonly webImport: { where: string; url: string };

  constructor(
    private readonly http: Http,
    private readonly origin: string,
    private readonly token: string,
    private readonly me: { id: string; handle: string; domain: string },
  ) {
    const host = new URL(origin).host;
    this.webImport = {
      where: `${host} → Preferences → Import and export → Import, type "Following list"`,
      url: `${origin}/settings/imports`,
    };
  }

  get handle(): string {
    return this.me.handle;
  }

  /** GET /api/v1/accounts/verify_credentials: followers_count, as the owner sees it. */
  async followersCount(): Promise<number> {
    const res = await this.http.json(
      `${this.origin}/api/v1/accounts/verify_credentials`,
      CountedAccountSchema,
      { token: this.token, maxBytes: BODY_LIMITS.account },
    );
    return res.data.followers_count;
  }

  async following(): Promise<Set<string>> {
    const out = new Set<string>();
    let url: string | undefined = `${this.origin}/api/v1/accounts/${this.me.id}/following?limit=80`;
    while (url) {
      const res: HttpResponse<Account[]> = await this.http.json(url, z.array(AccountSchema), {
        token: this.token,
        maxBytes: BODY_LIMITS.page,
      });
      for (const a of res.data) out.add(normalHandle(withDomain(a.acct, this.me.domain)));
      url = res.next;
    }
    return out;
  }

  async isFollowing(acct: string): Promise<boolean> {
    const id = await this.resolve(acct);
    if (!id) return false;
    const res = await this.http.json(
      `${this.origin}/api/v1/accounts/relationships?id[]=${encodeURIComponent(id)}`,
      z.array(FollowAnswer),
      { token: this.token, maxBytes: BODY_LIMITS.account },
    );
    const rel = res.data[0];
    return Boolean(rel?.following || rel?.requested);
  }

  async follow(row: FollowRow): Promise<FollowResult> {
    const id = await this.resolve(row.acct);
    if (!id) return { kind: "not-found" };
    const form: Record<string, string> = {
      reblogs: String(row.reblogs),
      notify: String(row.notify),
    };
    const body = new URLSearchParams(form);
    for (const lang of row.languages ?? []) body.append("languages[]", lang);
    try {
      const res = await this.http.json(
        `${this.origin}/api/v1/accounts/${encodeURIComponent(id)}/follow`,
        FollowAnswer,
        {
          method: "POST",
          token: this.token,
          form: body,
          // Following the same account again only updates its options: safe to retry.
          idempotent: true,
          maxBytes: BODY_LIMITS.account,
        },
      );
      return res.data.requested ? { kind: "requested" } : { kind: "followed" };
    } catch (err) {
      if (err instanceof RejectedError && (err.status === 403 || err.status === 422))
        return { kind: "refused", reason: err.detail };
      if (err instanceof RejectedError && err.status === 404) return { kind: "not-found" };
      throw err;
    }
  }

  private async resolve(acct: string): Promise<string | undefined> {
    const q = normalHandle(acct);
    const res = await this.http.json(
      `${this.origin}/api/v2/search?q=${encodeURIComponent(q)}&type=accounts&resolve=true&limit=5`,
      Search,
      { token: this.token, maxBytes: BODY_LIMITS.account },
    );
    const match = res.data.accounts.find(
      (a) => normalHandle(withDomain(a.acct, this.me.domain)) === q,
    );
    return match?.id;
  }
}
