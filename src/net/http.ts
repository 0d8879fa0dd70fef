/**
 * The request layer under every client: timeouts, retries on 5xx and network
 * errors for idempotent calls, waiting out 429s (the pacer in the dispatcher
 * holds the next request until the reset), and one translation of failures
 * into the classes in errors.ts. Responses are validated with zod by the caller's
 * schema, so a server that answers something else gets a clear error here rather
 * than a crash three steps later.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import type { GuardedDispatcher } from "./dispatcher.js";
import {
  BadResponseError,
  ForbiddenAddressError,
  RateLimitedError,
  RejectedError,
  RemoteError,
  TimeoutError,
  UnreachableError,
} from "./errors.js";
import { readLimitHeaders } from "./pacer.js";

export interface RequestOptions {
  method?: "GET" | "POST" | "DELETE" | "PATCH" | "PUT";
  token?: string;
  /** Form fields (application/x-www-form-urlencoded), or a JSON value. */
  form?: Record<string, string> | URLSearchParams;
  json?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Default: GET and DELETE are retried; POST only when the caller says it is safe. */
  idempotent?: boolean;
  /** For a quick look (is this server there?): a shorter timeout, fewer retries. */
  timeoutMs?: number;
  retries?: number;
}

export interface HttpResponse<T> {
  data: T;
  status: number;
  headers: Headers;
}

const RETRIES_ON_FAILURE = 3;
const RETRIES_ON_LIMIT = 6;

/** The error text a server put in its body: Mastodon's `error`, micro.blog's, or a short plain text. */
export function errorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
    if (typeof parsed.error_description === "string") return parsed.error_description;
  } catch {
    // not JSON
  }
  const text = body
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return text.length > 140 ? `${text.slice(0, 140)}…` : text;
}

export class Http {
  constructor(
    readonly dispatcher: GuardedDispatcher,
    private readonly timeoutMs: number,
    private readonly backoffMs = 500,
  ) {}

  /** masto's `requestInit`, so its calls share the guard and the pacing. */
  get requestInit(): { dispatcher: GuardedDispatcher } {
    return { dispatcher: this.dispatcher };
  }

  async json<S extends z.ZodType>(
    url: string | URL,
    schema: S,
    opts: RequestOptions = {},
  ): Promise<HttpResponse<z.infer<S>>> {
    const res = await this.request(url, {
      ...opts,
      headers: { accept: "application/json", ...opts.headers },
    });
    const host = new URL(url).host;
    let body: unknown;
    try {
      body = JSON.parse(res.data);
    } catch {
      throw new BadResponseError(`${host} did not answer with JSON`, host, res.status);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join(".") || "the answer";
      throw new BadResponseError(`${host} sent an unexpected answer (${where})`, host, res.status);
    }
    return { data: parsed.data, status: res.status, headers: res.headers };
  }

  /** The raw text of a successful response; every failure is a RemoteError. */
  async request(url: string | URL, opts: RequestOptions = {}): Promise<HttpResponse<string>> {
    const target = new URL(url);
    const host = target.host;
    const method = opts.method ?? "GET";
    const idempotent = opts.idempotent ?? (method === "GET" || method === "DELETE");
    const headers: Record<string, string> = {
      "user-agent": "fedimove/0.1 (+migration bot)",
      ...opts.headers,
    };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(opts.form).toString();
    } else if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    }

    let failures = 0;
    let limited = 0;
    let refused = 0;
    const pacer = this.dispatcher.pacer;
    const bucket = pacer.bucketOf(target.origin, headers.authorization);
    const rule = pacer.ruleOf(target.origin);
    for (;;) {
      opts.signal?.throwIfAborted();
      const release = await pacer.turn(bucket, host, opts.signal);
      let res: Response;
      try {
        const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
        res = await fetch(target, {
          method,
          headers,
          body,
          redirect: "follow",
          signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
          dispatcher: this.dispatcher,
        });
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        const translated = translate(err, host);
        const retryable = !(translated instanceof ForbiddenAddressError) && idempotent;
        if (retryable && failures < (opts.retries ?? RETRIES_ON_FAILURE)) {
          failures += 1;
          await sleep(this.backoffMs * 2 ** (failures - 1), undefined, { signal: opts.signal });
          continue;
        }
        throw translated;
      } finally {
        // The dispatcher has seen the status by now (and blocked the bucket on a limit).
        release();
      }
      const text = await res.text().catch(() => "");
      if (res.ok) return { data: text, status: res.status, headers: res.headers };

      if (res.status === 429) {
        const reset = readLimitHeaders((n) => res.headers.get(n) ?? undefined).reset;
        // The pacer saw the 429 and holds the next request of this bucket until the reset.
        if (limited < RETRIES_ON_LIMIT) {
          limited += 1;
          if (!reset)
            await sleep(this.backoffMs * 2 ** limited, undefined, { signal: opts.signal });
          continue;
        }
        throw new RateLimitedError(
          `${host} keeps refusing: too many requests`,
          host,
          reset ?? new Date(),
        );
      }
      if (rule && res.status === rule.limitStatus) {
        // The pacer blocked the origin when the status came; the next turn waits it out.
        refused += 1;
        if (refused < rule.tries) continue;
        const until = new Date(pacer.state(bucket)?.resetAt ?? Date.now());
        throw new RateLimitedError(`${host} keeps refusing (HTTP ${res.status})`, host, until);
      }
      if (res.status >= 500 && idempotent && failures < (opts.retries ?? RETRIES_ON_FAILURE)) {
        failures += 1;
        await sleep(this.backoffMs * 2 ** (failures - 1), undefined, { signal: opts.signal });
        continue;
      }
      const detail = errorDetail(text);
      if (res.status >= 500) {
        throw new BadResponseError(
          `${host} is having trouble (HTTP ${res.status})`,
          host,
          res.status,
        );
      }
      throw new RejectedError(
        `${host} refused: ${detail || `HTTP ${res.status}`}`,
        host,
        res.status,
        detail,
      );
    }
  }
}

/** Maps what fetch throws onto our classes, keeping the original as `cause`. */
export function translate(err: unknown, host: string): RemoteError {
  if (err instanceof RemoteError) return err;
  const chain: unknown[] = [];
  for (let e: unknown = err; e && chain.length < 6; e = (e as { cause?: unknown }).cause)
    chain.push(e);
  const guard = chain.find((e) => e instanceof ForbiddenAddressError);
  if (guard) return guard as ForbiddenAddressError;
  if (
    chain.some(
      (e) => e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError"),
    )
  ) {
    return new TimeoutError(`${host} did not answer in time`, host, { cause: err });
  }
  const code = chain
    .map((e) => (e as { code?: unknown }).code)
    .find((c) => typeof c === "string") as string | undefined;
  if (
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT"
  ) {
    return new TimeoutError(`${host} did not answer in time`, host, { cause: err });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new UnreachableError(`${host} was not found`, host, { cause: err });
  }
  return new UnreachableError(`${host} could not be reached`, host, { cause: err });
}
