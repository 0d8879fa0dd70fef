/**
 * micro.blog's JSON API for the new account: check an app token once, follow, is_following,
 * following. Over our Http, so the network guard, timeouts and pacing apply. Facts and their
 * confidence: /work/shared/reference/microblog.md.
 *
 * micro.blog limits per IP address (300 requests a minute for the platform) and says so only
 * with a 403, without Retry-After or X-RateLimit headers (help.micro.blog/t/rate-limiting/3861).
 * So the client registers `MICROBLOG_LIMIT` with the pacer for micro.blog's origin: every user
 * of the bot shares one bucket, requests are spaced so that no 60 s holds more than the limit
 * (a 403 costs the rest of micro.blog's window: bench/import.ts measured 0.69 of the limit at
 * ~20 ms a request when pacing only reacted to 403s), and should a 403 come anyway it blocks
 * the origin for a minute and Http tries the call again.
 */
import { z } from "zod";
// micro.blog names Fediverse accounts user@host, and official apps never send a leading @.
import { bareHandle, normalHandle } from "../model/handle.js";
import { RejectedError } from "../net/errors.js";
import type { Http, JsonOptions } from "../net/http.js";
import type { OriginRule } from "../net/pacer.js";

const VerifySchema = z.object({
  token: z.string().min(1),
  username: z.string().min(1),
  name: z.string().nullish(),
  expires_at: z.union([z.string(), z.number()]).nullish(),
});
/** The macOS framework reads is_following as a number, so accept 0/1 too. */
const IsFollowingSchema = z.object({ is_following: z.union([z.boolean(), z.number()]) });
const FollowingSchema = z.array(z.object({ username: z.string().min(1) }));

/** The status and body of an unknown user are unconfirmed: wording that can only mean "no such user". */
const NO_SUCH_USER =
  /not found|no such (user|account)|unknown (user|account|username)|does(n't| not) exist|could(n't| not) (be )?(find|found|resolved?)|unable to (find|resolve)/i;

/**
 * micro.blog's limit, as the pacer keeps it: 300 requests a minute per IP for the platform;
 * its window is a minute, so a 403 holds every user's requests that long; a minute's block
 * clears a real limit, so a third 403 in a row means something else is wrong. Requests go
 * one at a time: the 403 comes after the fact and without headers, so a request sent
 * alongside the refused one would reach micro.blog after the refusal.
 */
export const MICROBLOG_LIMIT: OriginRule = {
  limit: 300,
  windowMs: 60_000,
  limitStatus: 403,
  blockMs: 60_000,
  tries: 3,
};

export type FollowOutcome = "followed" | "not-found";

export interface Verified {
  /** The token to keep: micro.blog may hand back a different one. */
  token: string;
  username: string;
  name: string;
  /** Set when micro.blog made the token expiring (ISO 8601). */
  expiresAt?: string;
}

export class MicroblogClient {
  readonly origin: string;

  /**
   * Registers `MICROBLOG_LIMIT` for the origin with the pacer, unless a rule is there already
   * (tests and benchmarks register a scaled one first).
   */
  constructor(
    private readonly http: Http,
    origin: string,
  ) {
    this.origin = new URL(origin).origin;
    const pacer = http.dispatcher.pacer;
    if (!pacer.ruleOf(this.origin)) pacer.rule(this.origin, MICROBLOG_LIMIT);
  }

  /**
   * Who the app token belongs to. Call it once: micro.blog turns tokens that are verified
   * regularly into expiring ones. An invalid token is a 401, or a 200 with `{"error": …}`.
   */
  async verify(appToken: string): Promise<Verified> {
    const body = await this.call("/account/verify", VerifySchema, {
      method: "POST",
      form: { token: appToken },
      errorBody: 401,
    });
    const expires = body.expires_at;
    return {
      token: body.token,
      username: body.username,
      name: body.name ?? body.username,
      ...(expires == null
        ? {}
        : {
            expiresAt:
              typeof expires === "number"
                ? new Date(expires > 1e11 ? expires : expires * 1000).toISOString()
                : expires,
          }),
    };
  }

  /** Follows a micro.blog username or a Fediverse user@host. Following twice is harmless. */
  async follow(token: string, handle: string): Promise<FollowOutcome> {
    const query = new URLSearchParams({ username: bareHandle(handle) });
    try {
      // Official apps look at the status only; a 2xx that isn't JSON is still a follow.
      await this.call(`/users/follow?${query}`, z.unknown(), {
        method: "POST",
        token,
        idempotent: true,
        errorBody: 400,
        textOk: true,
      });
      return "followed";
    } catch (err) {
      if (err instanceof RejectedError && meansNoSuchUser(err)) return "not-found";
      throw err;
    }
  }

  /** False as well for an account micro.blog doesn't know. */
  async isFollowing(token: string, handle: string): Promise<boolean> {
    const query = new URLSearchParams({ username: bareHandle(handle) });
    try {
      const answer = await this.call(`/users/is_following?${query}`, IsFollowingSchema, {
        token,
        errorBody: 400,
      });
      return Boolean(answer.is_following);
    } catch (err) {
      if (err instanceof RejectedError && meansNoSuchUser(err)) return false;
      throw err;
    }
  }

  /** Everyone `username` follows, as lower-cased handles (user@host for the Fediverse). One request, no paging. */
  async following(token: string, username: string): Promise<Set<string>> {
    // @ is allowed in a path segment; keep it readable as the apps send it.
    const name = encodeURIComponent(bareHandle(username)).replaceAll("%40", "@");
    const list = await this.call(`/users/following/${name}`, FollowingSchema, {
      token,
      errorBody: 400,
    });
    return new Set(list.map((u) => normalHandle(u.username)));
  }

  /** A JSON call to micro.blog: `path` on its origin; the answer's data. */
  private async call<S extends z.ZodType>(
    path: string,
    schema: S,
    opts: JsonOptions,
  ): Promise<z.infer<S>> {
    return (await this.http.json(new URL(path, this.origin), schema, opts)).data;
  }
}

/** 404/410, or a 400/422 whose text says so (JSON, plain text or an HTML page alike). */
function meansNoSuchUser(err: RejectedError): boolean {
  if (err.status === 404 || err.status === 410) return true;
  return (err.status === 400 || err.status === 422) && NO_SUCH_USER.test(err.detail);
}
