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
import { BadResponseError, RejectedError } from "../net/errors.js";
import type { Http, HttpResponse, RequestOptions } from "../net/http.js";
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
/** micro.blog's own error shape; verify sends it with a 200, so a 2xx is read before trusting it. */
const ErrorBody = z.object({ error: z.string() });

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

/** micro.blog names Fediverse accounts user@host, and official apps never send a leading @. */
export function bareHandle(handle: string): string {
  return handle.trim().replace(/^@/, "");
}

export class MicroblogClient {
  readonly origin: string;
  private readonly host: string;

  /**
   * Registers `MICROBLOG_LIMIT` for the origin with the pacer, unless a rule is there already
   * (tests and benchmarks register a scaled one first).
   */
  constructor(
    private readonly http: Http,
    origin: string,
  ) {
    const url = new URL(origin);
    this.origin = url.origin;
    this.host = url.host;
    const pacer = http.dispatcher.pacer;
    if (!pacer.ruleOf(this.origin)) pacer.rule(this.origin, MICROBLOG_LIMIT);
  }

  /**
   * Who the app token belongs to. Call it once: micro.blog turns tokens that are verified
   * regularly into expiring ones.
   */
  async verify(appToken: string): Promise<Verified> {
    const res = await this.send(
      "/account/verify",
      { method: "POST", form: { token: appToken } },
      appToken,
    );
    const body = this.parse(res, VerifySchema, appToken, 401);
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
    const username = bareHandle(handle);
    try {
      const query = new URLSearchParams({ username });
      const opts = { method: "POST", token, idempotent: true } as const;
      const res = await this.send(`/users/follow?${query}`, opts, token);
      // Official apps look at the status only; a 2xx that isn't JSON is still a follow.
      const error = parseJson(res.data, ErrorBody);
      if (error) throw this.refusal(error.error, 400, token);
      return "followed";
    } catch (err) {
      if (err instanceof RejectedError && meansNoSuchUser(err)) return "not-found";
      throw err;
    }
  }

  /** False as well for an account micro.blog doesn't know. */
  async isFollowing(token: string, handle: string): Promise<boolean> {
    const username = bareHandle(handle);
    try {
      const query = new URLSearchParams({ username });
      const res = await this.send(`/users/is_following?${query}`, { token }, token);
      return Boolean(this.parse(res, IsFollowingSchema, token).is_following);
    } catch (err) {
      if (err instanceof RejectedError && meansNoSuchUser(err)) return false;
      throw err;
    }
  }

  /** Everyone `username` follows, as lower-cased handles (user@host for the Fediverse). One request, no paging. */
  async following(token: string, username: string): Promise<Set<string>> {
    // @ is allowed in a path segment; keep it readable as the apps send it.
    const name = encodeURIComponent(bareHandle(username)).replaceAll("%40", "@");
    const res = await this.send(`/users/following/${name}`, { token }, token);
    const list = this.parse(res, FollowingSchema, token);
    return new Set(list.map((u) => bareHandle(u.username).toLowerCase()));
  }

  private async send(
    path: string,
    opts: RequestOptions,
    secret: string,
  ): Promise<HttpResponse<string>> {
    try {
      return await this.http.request(new URL(path, this.origin), opts);
    } catch (err) {
      throw err instanceof RejectedError ? withoutSecret(err, secret) : err;
    }
  }

  /** A JSON answer of this shape; `{"error": …}` is a refusal even with a 2xx. */
  private parse<S extends z.ZodType>(
    res: HttpResponse<string>,
    schema: S,
    secret: string,
    refusedStatus = 400,
  ): z.infer<S> {
    let body: unknown;
    try {
      body = JSON.parse(res.data);
    } catch {
      throw new BadResponseError(`${this.host} did not answer with JSON`, this.host, res.status);
    }
    const error = ErrorBody.safeParse(body);
    if (error.success) throw this.refusal(error.data.error, refusedStatus, secret);
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join(".") || "the answer";
      throw new BadResponseError(
        `${this.host} sent an unexpected answer (${where})`,
        this.host,
        res.status,
      );
    }
    return parsed.data;
  }

  /** An error micro.blog put in a 2xx body, as the 4xx it stands for. */
  private refusal(detail: string, status: number, secret: string): RejectedError {
    return withoutSecret(
      new RejectedError(`${this.host} refused: ${detail}`, this.host, status, detail),
      secret,
    );
  }
}

function parseJson<S extends z.ZodType>(text: string, schema: S): z.infer<S> | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** 404/410, or a 400/422 whose text says so (JSON, plain text or an HTML page alike). */
function meansNoSuchUser(err: RejectedError): boolean {
  if (err.status === 404 || err.status === 410) return true;
  return (err.status === 400 || err.status === 422) && NO_SUCH_USER.test(err.detail);
}

/** A server that echoes the token must not put it in our messages or logs. */
function withoutSecret(err: RejectedError, secret: string): RejectedError {
  if (!secret || !(err.message.includes(secret) || err.detail.includes(secret))) return err;
  const clean = (s: string) => s.replaceAll(secret, "[token]");
  return new RejectedError(clean(err.message), err.host, err.status, clean(err.detail));
}
