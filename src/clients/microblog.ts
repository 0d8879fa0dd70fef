/**
 * micro.blog's JSON API for the new account: check an app token once, follow, is_following,
 * following. Over our Http, so the network guard, timeouts and pacing apply. Facts and their
 * confidence: /work/shared/reference/microblog.md.
 *
 * micro.blog limits per IP address (300 requests a minute for the platform) and says so only
 * with a 403, without Retry-After or X-RateLimit headers. So every user of the bot shares one
 * bucket (`perHost`), requests are spaced so that no 60 s holds more than the limit (a 403
 * costs the rest of micro.blog's window: bench/import.ts measured 0.69 of the limit at
 * ~20 ms a request when pacing only reacted to 403s), and should a 403 come anyway it blocks
 * that bucket for a minute and the call is tried again.
 */
import { z } from "zod";
import type { GuardedDispatcher } from "../net/dispatcher.js";
import { BadResponseError, RateLimitedError, RejectedError } from "../net/errors.js";
import type { Http, HttpResponse, RequestOptions } from "../net/http.js";
import { announceWait, bucketOf } from "../net/pacer.js";

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

/** micro.blog's window is a minute; a 403 holds every user's requests this long. */
const BLOCK_MS = 60_000;
/** A minute's block clears a real limit, so a third 403 in a row means something else is wrong. */
const ATTEMPTS = 3;

/** The tail of the request queue per dispatcher and origin; see `exclusive`. */
const queues = new WeakMap<GuardedDispatcher, Map<string, Promise<unknown>>>();
/** When the latest requests left, per dispatcher and origin, for the sliding-window limiter. */
const sendTimes = new WeakMap<GuardedDispatcher, Map<string, number[]>>();
/** micro.blog's platform limit, and its window. */
const LIMIT = 300;
const WINDOW_MS = 60_000;
/** Clocks differ; wait this much past the window. */
const SLACK_MS = 250;

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
  private readonly bucket: string;
  private readonly blockMs: number;
  private readonly limit: { count: number; windowMs: number; slackMs: number };

  /** The options are for tests and benchmarks; micro.blog's limit is 300 a minute. */
  constructor(
    private readonly http: Http,
    origin: string,
    opts: { blockMs?: number; limit?: number; windowMs?: number; slackMs?: number } = {},
  ) {
    const url = new URL(origin);
    this.origin = url.origin;
    this.host = url.host;
    this.bucket = bucketOf(this.origin, undefined, true);
    this.blockMs = opts.blockMs ?? BLOCK_MS;
    this.limit = {
      count: opts.limit ?? LIMIT,
      windowMs: opts.windowMs ?? WINDOW_MS,
      slackMs: opts.slackMs ?? SLACK_MS,
    };
    // Limits count per IP, so one budget for all users (and the dispatcher's bucket matches ours).
    http.dispatcher.perHost.add(this.origin);
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

  /**
   * One call, tried again after a 403 once the block is over. The wait happens in the pacer
   * (before we queue, and in the dispatcher), which tells whoever listens via `reportWaits`.
   */
  private async send(
    path: string,
    opts: RequestOptions,
    secret: string,
  ): Promise<HttpResponse<string>> {
    const url = new URL(path, this.origin);
    const pacer = this.http.dispatcher.pacer;
    for (let attempt = 1; ; attempt += 1) {
      await pacer.take(this.bucket, this.host);
      let until = new Date();
      try {
        return await this.exclusive(async () => {
          await this.spaced();
          try {
            return await this.http.request(url, opts);
          } catch (err) {
            // Blocked before the queue moves on, so nothing else leaves for micro.blog until then.
            if (err instanceof RejectedError && err.status === 403) {
              until = new Date(Date.now() + this.blockMs);
              pacer.block(this.bucket, until);
            }
            throw err;
          }
        });
      } catch (err) {
        if (!(err instanceof RejectedError)) throw err;
        if (err.status !== 403) throw withoutSecret(err, secret);
        if (attempt >= ATTEMPTS) {
          throw new RateLimitedError(`${this.host} keeps refusing (HTTP 403)`, this.host, until);
        }
      }
    }
  }

  /**
   * One request at a time to micro.blog from this process. Its 403 comes after the fact and
   * without headers, so a request sent alongside the refused one would reach it after the
   * refusal; in a queue, the block is set before the next request can leave.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    let byOrigin = queues.get(this.http.dispatcher);
    if (!byOrigin) {
      byOrigin = new Map();
      queues.set(this.http.dispatcher, byOrigin);
    }
    const run = (byOrigin.get(this.origin) ?? Promise.resolve()).then(fn);
    byOrigin.set(
      this.origin,
      run.catch(() => undefined),
    );
    return run;
  }

  /**
   * Waits until sending one more keeps any stretch of `windowMs` at or under the limit,
   * then records the send. Runs inside the queue, so the times are in sending order.
   */
  private async spaced(): Promise<void> {
    let byOrigin = sendTimes.get(this.http.dispatcher);
    if (!byOrigin) {
      byOrigin = new Map();
      sendTimes.set(this.http.dispatcher, byOrigin);
    }
    const times = byOrigin.get(this.origin) ?? [];
    byOrigin.set(this.origin, times);
    if (times.length >= this.limit.count) {
      const oldest = times[times.length - this.limit.count]!;
      const wait = oldest + this.limit.windowMs + this.limit.slackMs - Date.now();
      if (wait > 1000) announceWait(new Date(Date.now() + wait), this.host);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    times.push(Date.now());
    if (times.length > this.limit.count) times.splice(0, times.length - this.limit.count);
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
