import { z } from "zod";
// micro.blog names Fediverse accounts user@host, and official apps never send a leading @.
import { bareHandle } from "../model/handle.js";
import { RateLimitedError, RejectedError } from "../net/errors.js";
import type { Http, JsonOptions } from "../net/http.js";
import type { OriginRule } from "../net/pacer.js";
import type { ListedUser } from "./microblog-names.js";
import { TokenRejectedError } from "./new-account.js";

const VerifySchema = z.object({
  token: z.string().min(1),
  username: z.string().min(1),
  name: z.string().nullish(),
  /** The blog's host: username.micro.blog, or its own domain (legacy help 2020-05-30). */
  default_site: z.string().nullish(),
  expires_at: z.union([z.string(), z.number()]).nullish(),
});
/** The macOS framework reads is_following as a number, so accept 0/1 too. */
const IsFollowingSchema = z.object({ is_following: z.union([z.boolean(), z.number()]) });
const FollowingSchema = z.array(
  z.object({ username: z.string().min(1), url: z.string().nullish() }),
);

/** The status and body of an unknown user are unconfirmed: wording that can only mean "no such user". */
const NO_SUCH_USER =
  /not found|no such (user|account)|unknown (user|account|username)|does(n't| not) exist|could(n't| not) (be )?(find|found|resolved?)|unable to (find|resolve)/i;

/**
 * micro.blog's limit, as the pacer keeps it: 300 requests a minute per IP for the platform;
 * its window is a minute, so a 403 that can be the limit holds every user's requests that
 * long. Requests go one at a time: the 403 comes after the fact and without headers, so a
 * request sent alongside the refused one would reach micro.blog after the refusal.
 */
export const MICROBLOG_LIMIT: OriginRule = {
  limit: 300,
  windowMs: 60_000,
  ambiguousStatus: 403,
  blockMs: 60_000,
  tries: 3,
};

/** The status micro.blog signals its limit with, and sometimes other refusals. */
const FORBIDDEN = 403;

export type FollowOutcome =
  | { kind: "followed" }
  | { kind: "not-found" }
  /** micro.blog said no to this follow, not for its limit: its status and words. */
  | { kind: "refused"; status: number; detail: string };

export interface Verified {
  /** The token to keep: micro.blog may hand back a different one. */
  token: string;
  username: string;
  name: string;
  /** The blog's host (ada.micro.blog, or its own domain), when micro.blog says. */
  defaultSite?: string;
  /** Set when micro.blog made the token expiring (ISO 8601). */
  expiresAt?: string;
}

interface CallOptions extends JsonOptions {
  /** A 403 here is about the request, never the limit (micro.blog's /account/verify). */
  neverTheLimit?: boolean;
}

export class MicroblogClient {
  readonly origin: string;
  /** micro.blog's host, as errors name it. */
  readonly host: string;

  /**
   * Registers `MICROBLOG_LIMIT` for the origin with the pacer, unless a rule is there already
   * (tests and benchmarks register a scaled one first).
   */
  constructor(
    private readonly http: Http,
    origin: string,
  ) {
    this.origin = new URL(origin).origin;
    this.host = new URL(origin).host;
    const pacer = http.dispatcher.pacer;
    if (!pacer.ruleOf(this.origin)) pacer.rule(this.origin, MICROBLOG_LIMIT);
  }

  /** How many requests the pacer keeps in flight to micro.blog now (⌈R·c⌉). */
  lanes(): number {
    return this.http.dispatcher.pacer.lanes(this.origin);
  }

  /**
   * Who the app token belongs to. Call it once: micro.blog turns tokens that are verified
   * regularly into expiring ones. An invalid token is a RejectedError: a 200 with
   * `{"error": …}`, a 401, or a 403 (never the limit here).
   */
  async verify(appToken: string): Promise<Verified> {
    const body = await this.call("/account/verify", VerifySchema, {
      method: "POST",
      form: { token: appToken },
      errorBody: 401,
      neverTheLimit: true,
    });
    const expires = body.expires_at;
    const site = body.default_site?.trim();
    return {
      token: body.token,
      username: body.username,
      name: body.name ?? body.username,
      ...(site ? { defaultSite: site } : {}),
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

  /**
   * Follows a micro.blog username or a Fediverse user@host, with one request.
   * A token micro.blog no longer takes is a TokenRejectedError (401); a 403 that isn't its
   * limit comes back as a refusal, which may still be the token (`tokenWorks` tells).
   * When the answer is lost (a reset, a timeout, a 5xx, a body cut short) the follow may have
   * landed, or may land later still (a request given up on can reach micro.blog seconds
   * after): that error is thrown as it came, never tried again here. The import asks
   * is_following after a pause before it sends another (import-job.ts), so one account is
   * never sent two follows (the reliability harness counts them per pair).
   */
  async follow(token: string, name: string): Promise<FollowOutcome> {
    const query = new URLSearchParams({ username: bareHandle(name) });
    try {
      // Official apps look at the status only; a 2xx that isn't JSON is still a follow.
      await this.call(`/users/follow?${query}`, z.unknown(), {
        method: "POST",
        token,
        idempotent: false,
        errorBody: 400,
        textOk: true,
      });
      return { kind: "followed" };
    } catch (err) {
      if (err instanceof RejectedError && meansNoSuchUser(err)) return { kind: "not-found" };
      if (err instanceof RejectedError && err.status === FORBIDDEN)
        return { kind: "refused", status: err.status, detail: err.detail };
      throw err;
    }
  }

  /** False as well for an account micro.blog doesn't know. */
  async isFollowing(token: string, name: string): Promise<boolean> {
    const query = new URLSearchParams({ username: bareHandle(name) });
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

  /**
   * Whether micro.blog still takes the token, asked as cheaply as it can be: is the token's
   * own user following itself (`is_you`). A 401 says no; so does a 403, which here is never
   * taken for the limit: this is asked right after a refusal that came after a quiet minute
   * (or the retry that followed a block), so the limit was just ruled out, and a block would
   * hold every user for nothing.
   */
  async tokenWorks(token: string, username: string): Promise<boolean> {
    const query = new URLSearchParams({ username: bareHandle(username) });
    try {
      await this.call(`/users/is_following?${query}`, IsFollowingSchema, {
        token,
        errorBody: 400,
        neverTheLimit: true,
      });
      return true;
    } catch (err) {
      if (err instanceof RejectedError && (err.status === 401 || err.status === FORBIDDEN))
        return false;
      throw err;
    }
  }

  /**
   * Everyone `username` follows, as micro.blog lists them: Fediverse accounts as user@host,
   * its own users by bare username with their blog. One request, no paging.
   */
  async following(token: string, username: string): Promise<ListedUser[]> {
    // @ is allowed in a path segment; keep it readable as the apps send it.
    const name = encodeURIComponent(bareHandle(username)).replaceAll("%40", "@");
    return this.call(`/users/following/${name}`, FollowingSchema, { token, errorBody: 400 });
  }

  /**
   * A JSON call to micro.blog: `path` on its origin; the answer's data. A 401 to a call with a
   * token is a TokenRejectedError. A 403 that the pacer took for the limit (the origin is
   * blocked) is tried again once the block is over, `tries` times in all; any other 403 is
   * the refusal it is.
   */
  private async call<S extends z.ZodType>(
    path: string,
    schema: S,
    opts: CallOptions,
  ): Promise<z.infer<S>> {
    const { neverTheLimit, ...options } = opts;
    const pacer = this.http.dispatcher.pacer;
    const bucket = pacer.bucketOf(this.origin, undefined);
    const tries = pacer.ruleOf(this.origin)?.tries ?? 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.http.json(new URL(path, this.origin), schema, options)).data;
      } catch (err) {
        if (!(err instanceof RejectedError)) throw err;
        if (err.status === 401 && options.token)
          throw new TokenRejectedError(err.host, err.status, err.detail, {
            method: err.method,
            path: err.path,
            cause: err,
          });
        if (err.status !== FORBIDDEN) throw err;
        const blocked = pacer.blockedUntil(bucket);
        if (!blocked) throw err;
        if (neverTheLimit) {
          pacer.unblock(bucket);
          throw err;
        }
        if (attempt >= tries) {
          throw new RateLimitedError(`${err.host} keeps refusing (HTTP 403)`, err.host, blocked, {
            method: err.method,
            path: err.path,
            cause: err,
          });
        }
        // The pacer holds the next try until the block is over.
      }
    }
  }
}

/** 404/410, or a 400/422 whose text says so (JSON, plain text or an HTML page alike). */
function meansNoSuchUser(err: RejectedError): boolean {
  if (err.status === 404 || err.status === 410) return true;
  return (err.status === 400 || err.status === 422) && NO_SUCH_USER.test(err.detail);
}
