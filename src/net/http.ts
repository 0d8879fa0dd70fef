/**
 * The request layer under every client: timeouts, retries on 5xx and network
 * errors for idempotent calls, waiting out 429s (the pacer in the dispatcher
 * holds the next request until the reset) and the limit status of an origin's
 * pacer rule, and one translation of failures into the classes in errors.ts.
 * Every body is capped (`maxBytes`, body-limits.ts) as it streams, and every
 * redirect is judged here, hop by hop (`redirected`): nothing that carries a
 * body or a credential leaves its origin.
 *
 * `json` is the only way a client reads a JSON answer: parsed, validated with the
 * caller's zod schema (so a server that answers something else gets a clear error
 * here rather than a crash three steps later), with the Link header's next page,
 * and with the statuses a client branches on (`allow`) handed back rather than
 * thrown. `request` is for answers that aren't JSON, or aren't read.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as sleep } from "node:timers/promises";
// undici's own fetch, the version package.json pins, never Node's global one (which bundles its
// own undici): the dispatcher below is an undici 6.29 Agent, and its fixes are the ones we chose.
import { fetch, type Headers, type Response } from "undici";
import { z } from "zod";
import { log } from "../log.js";
import { metrics, statusClass } from "../metrics.js";
import { readBody } from "./body.js";
import { BODY_LIMITS, sizeOf } from "./body-limits.js";
import type { GuardedDispatcher } from "./dispatcher.js";
import {
  BadResponseError,
  ForbiddenAddressError,
  RateLimitedError,
  RejectedError,
  RemoteError,
  TimeoutError,
  TooLargeError,
  UnreachableError,
  type Where,
} from "./errors.js";
import { readLimitHeaders } from "./pacer.js";
import { type Hop, REDIRECTS, redirected } from "./redirects.js";
import { type RequestSigner, signatureHeaders } from "./signatures.js";

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
  /**
   * The host errors name, where the one contacted stands in for it (tests and the demo map
   * domains to local stand-ins): the user knows the domain. Default: the URL's host.
   */
  shownHost?: string;
  /**
   * The most this answer can legitimately be, in bytes after decompression (see
   * body-limits.ts for each kind); past it the read stops, the connection closes and the call
   * fails with a BadResponseError. Default: `BODY_LIMITS.default`.
   */
  maxBytes?: number;
  /**
   * "error": a redirect is an error, never followed (OAuth's token, revoke and app
   * registration, whose forms carry the client secret). Otherwise redirects are followed, at
   * most MAX_REDIRECTS hops (redirects.ts), each through the guard; but a request that carries a body or a
   * credential follows only on its own origin, and fails rather than send them elsewhere.
   */
  redirect?: "error";
  /**
   * Sign the request (HTTP Signatures, signatures.ts) as this actor: each hop anew, for its own
   * path and host, with a fresh Date. For ActivityPub reads from servers in secure mode.
   */
  sign?: RequestSigner;
  /**
   * Secrets the request carries where Http can't see them (a bot token in the URL's path):
   * taken out of every error, like the token and secret form fields.
   */
  secrets?: readonly string[];
}

export interface JsonOptions extends RequestOptions {
  /** The Accept header; default application/json (ActivityPub and WebFinger ask for their own). */
  accept?: string;
  /**
   * How errors name the answer: "x did not answer with {data}", "x answered with a web page
   * instead of {data}", "x sent {item ?? data} I can't read (field)". Default: JSON, and
   * "x sent an unexpected answer (field)".
   */
  what?: { data: string; item?: string };
  /** Statuses that are an answer, not a failure (a 404 for "no such account"): see `Refusal`. */
  allow?: readonly number[];
  /** A 2xx whose body is `{"error": "…"}` is a refusal with this status (micro.blog's way). */
  errorBody?: number;
  /** A 2xx whose body isn't JSON is read as `undefined` (micro.blog's follow is read by its status). */
  textOk?: boolean;
}

export interface HttpResponse<T> {
  ok: true;
  data: T;
  status: number;
  headers: Headers;
  /** The Link header's `next` page, on the same origin (Mastodon's paging). */
  next?: string;
  /** The request, for an error a client raises about the answer. */
  where: Where;
}

/** An allowed status that isn't a 2xx: the server's own error text as `detail`. */
export interface Refusal {
  ok: false;
  status: number;
  detail: string;
  headers: Headers;
  where: Where;
}

/** Asked before each further attempt: may it go? */
export type AttemptGate = () => boolean | Promise<boolean>;
const attemptGates = new AsyncLocalStorage<AttemptGate>();

/**
 * A further attempt (a retry, a wait out of a 429, a redirect hop) that the caller's budget
 * had no room for: the call ends here, unsent, instead of going over the budget.
 */
export class OverBudgetError extends Error {
  constructor(readonly host: string) {
    super(`the request budget for ${host} has no room for another try now`);
    this.name = "OverBudgetError";
  }
}

/**
 * Runs `fn`, asking `gate` before every request Http sends in it past each call's first (its
 * retries and redirect hops), which a budget counted per request must take like the first: a
 * try the gate refuses is not sent, and the call fails with an OverBudgetError.
 */
export function chargeRetries<T>(gate: AttemptGate, fn: () => Promise<T>): Promise<T> {
  return attemptGates.run(gate, fn);
}

const RETRIES_ON_FAILURE = 3;
const RETRIES_ON_LIMIT = 6;
/** Of an answer that is a failure, only its error text is read: this much is plenty. */
const ERROR_BODY_BYTES = 16 * 1024;

/** micro.blog's error shape; its verify sends it with a 200, so a 2xx may be read for it. */
const ErrorBody = z.object({ error: z.string() });

/** Query and form fields whose values are secrets: OAuth codes, tokens, client secrets, PKCE verifiers. */
const SECRET_FIELD = /(?:^|_)(?:token|code|secret|password|verifier)$/i;
const REDACTED = "[redacted]";

/** What a request must not leak into an error: its credential, and secret query and form values. */
function secretsOf(url: URL, opts: RequestOptions): string[] {
  const found = new Set<string>();
  const auth = Object.entries(opts.headers ?? {}).find(
    ([k]) => k.toLowerCase() === "authorization",
  );
  for (const credential of [opts.token, auth?.[1], auth?.[1].replace(/^\S+\s+/, "")])
    if (credential) found.add(credential);
  for (const secret of opts.secrets ?? []) found.add(secret);
  const form = opts.form ? new URLSearchParams(opts.form) : new URLSearchParams();
  for (const [name, value] of [...url.searchParams, ...form]) {
    if (SECRET_FIELD.test(name)) found.add(value);
  }
  for (const s of [...found]) found.add(encodeURIComponent(s));
  // Longest first, so a secret that contains another goes whole.
  return [...found].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/**
 * Takes the request's secrets out of an error and its causes (a server may echo the token
 * or the URL in its error text): messages, stacks and string fields, in place.
 */
export function redact<E>(err: E, secrets: readonly string[]): E {
  if (secrets.length === 0) return err;
  const seen = new Set<unknown>();
  for (
    let e: unknown = err;
    typeof e === "object" && e !== null && !seen.has(e) && seen.size < 8;
    e = (e as { cause?: unknown }).cause
  ) {
    seen.add(e);
    for (const key of new Set([...Object.getOwnPropertyNames(e), "message", "stack"])) {
      const value = (e as Record<string, unknown>)[key];
      if (typeof value !== "string" || !secrets.some((x) => value.includes(x))) continue;
      const clean = secrets.reduce((text, x) => text.replaceAll(x, REDACTED), value);
      const enumerable = Object.prototype.propertyIsEnumerable.call(e, key);
      try {
        Object.defineProperty(e, key, {
          value: clean,
          writable: true,
          configurable: true,
          enumerable,
        });
      } catch {
        // a frozen foreign object: nothing of ours
      }
    }
  }
  return err;
}

/** JSON.parse's complaint without the excerpt of the body it quotes (which may echo a secret in part). */
function parseFailure(err: unknown): SyntaxError {
  const message = err instanceof Error ? err.message : String(err);
  return new SyntaxError(message.replace(/"[\s\S]*"(?:\.\.\.)?(?= is not valid JSON)/, "…"));
}

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

/**
 * The `next` cursor from a Link header, as a full URL on the same origin. A next link that is no
 * URL is a broken answer (a BadResponseError naming `host`), not the last page: ending the list
 * there would lose the rest of it without a word.
 */
export function nextLink(
  header: string | null,
  origin: string,
  host: string = new URL(origin).host,
): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) {
      if (!URL.canParse(m[1]!, origin))
        throw new BadResponseError(`${host} sent a next-page link I can't read`, host);
      const url = new URL(m[1]!, origin);
      // A Link pointing at another host would let a server steer our token elsewhere.
      return url.origin === origin ? url.toString() : undefined;
    }
  }
  return undefined;
}

/** What came back: a 2xx, or a status the caller allowed. */
interface Exchange {
  ok: boolean;
  /** The body: whole for a 2xx, the first ERROR_BODY_BYTES of anything else. */
  bytes: Uint8Array;
  text: string;
  status: number;
  headers: Headers;
  next?: string;
  host: string;
  where: Where;
}

export class Http {
  constructor(
    readonly dispatcher: GuardedDispatcher,
    private readonly timeoutMs: number,
    private readonly backoffMs = 500,
  ) {}

  /**
   * The one way to read a JSON answer: parsed, validated with `schema`, and every failure a
   * RemoteError. With `allow`, those statuses come back as a `Refusal` instead of a RejectedError.
   */
  json<S extends z.ZodType>(
    url: string | URL,
    schema: S,
    opts: JsonOptions & { allow: readonly number[] },
  ): Promise<HttpResponse<z.infer<S>> | Refusal>;
  json<S extends z.ZodType>(
    url: string | URL,
    schema: S,
    opts?: JsonOptions,
  ): Promise<HttpResponse<z.infer<S>>>;
  async json<S extends z.ZodType>(
    url: string | URL,
    schema: S,
    opts: JsonOptions = {},
  ): Promise<HttpResponse<z.infer<S>> | Refusal> {
    return this.redacting(url, opts, async () => {
      const method = opts.method ?? "GET";
      const idempotent = opts.idempotent ?? (method === "GET" || method === "DELETE");
      // A body that isn't JSON at all is a proxy's or a crashed worker's half answer more often
      // than the server's word: a read is asked again (a few times), a POST never.
      for (let garbled = 0; ; garbled++) {
        const res = await this.exchange(
          url,
          { ...opts, headers: { accept: opts.accept ?? "application/json", ...opts.headers } },
          opts.allow ?? [],
        );
        let body: unknown;
        try {
          body = this.parse(res, opts);
        } catch (err) {
          if (!idempotent || garbled >= (opts.retries ?? RETRIES_ON_FAILURE)) throw err;
          await sleep(this.backoffMs * 2 ** garbled, undefined, { signal: opts.signal });
          continue;
        }
        return this.read(res, body, schema, opts);
      }
    });
  }

  /** The raw text of a successful response (plain text, or no body to read); every failure is a RemoteError. */
  async request(url: string | URL, opts: RequestOptions = {}): Promise<HttpResponse<string>> {
    const res = await this.redacting(url, opts, () => this.exchange(url, opts, []));
    const { status, headers, next, where } = res;
    return { ok: true, data: res.text, status, headers, where, ...(next ? { next } : {}) };
  }

  /** The raw bytes of a successful response (a file); every failure is a RemoteError. */
  async bytes(url: string | URL, opts: RequestOptions = {}): Promise<HttpResponse<Uint8Array>> {
    const res = await this.redacting(url, opts, () => this.exchange(url, opts, []));
    const { status, headers, next, where } = res;
    return { ok: true, data: res.bytes, status, headers, where, ...(next ? { next } : {}) };
  }

  /** Runs a call; whatever it throws leaves without the request's secrets. */
  private async redacting<T>(url: string | URL, opts: RequestOptions, fn: () => Promise<T>) {
    try {
      return await fn();
    } catch (err) {
      throw redact(err, secretsOf(new URL(url), opts));
    }
  }

  /** A 2xx answer's JSON (undefined for a refusal, or text where `textOk`); not JSON: an error. */
  private parse(res: Exchange, opts: JsonOptions): unknown {
    if (!res.ok) return undefined;
    const { host, status, headers, where } = res;
    try {
      return JSON.parse(res.text);
    } catch (err) {
      if (opts.textOk) return undefined;
      const data = opts.what?.data ?? "JSON";
      const page =
        /html/i.test(headers.get("content-type") ?? "") || /^\s*</.test(res.text.slice(0, 200));
      const said = page
        ? `answered with a web page instead of ${data}`
        : `did not answer with ${data}`;
      throw new BadResponseError(`${host} ${said}`, host, status, {
        ...where,
        cause: parseFailure(err),
      });
    }
  }

  /** The parsed answer validated, or the error that says what was wrong with it. */
  private read<S extends z.ZodType>(
    res: Exchange,
    body: unknown,
    schema: S,
    opts: JsonOptions,
  ): HttpResponse<z.infer<S>> | Refusal {
    const { host, status, headers, where } = res;
    if (!res.ok) return { ok: false, status, detail: errorDetail(res.text), headers, where };
    const refusal = opts.errorBody === undefined ? undefined : ErrorBody.safeParse(body);
    if (refusal?.success) {
      const detail = refusal.data.error;
      throw new RejectedError(`${host} refused: ${detail}`, host, opts.errorBody!, detail, where);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path.join(".") || "the answer";
      const item = opts.what?.item ?? opts.what?.data;
      throw new BadResponseError(
        item
          ? `${host} sent ${item} I can't read (${field})`
          : `${host} sent an unexpected answer (${field})`,
        host,
        status,
        { ...where, cause: parsed.error },
      );
    }
    return {
      ok: true,
      data: parsed.data,
      status,
      headers,
      where,
      ...(res.next ? { next: res.next } : {}),
    };
  }

  /** One call, with its retries, waits and redirects: a 2xx or an allowed status, or a RemoteError. */
  private async exchange(
    url: string | URL,
    opts: RequestOptions,
    allow: readonly number[],
  ): Promise<Exchange> {
    const first = new URL(url);
    const host = opts.shownHost ?? first.host;
    const method = opts.method ?? "GET";
    // The path alone: a query may carry an OAuth code or a token.
    const where: Where = { method, path: first.pathname };
    const idempotent = opts.idempotent ?? (method === "GET" || method === "DELETE");
    // Names in lower case, so a hop can tell what it carries (`authorization`, `content-type`).
    const headers: Record<string, string> = { "user-agent": "fedimove/0.1 (+migration bot)" };
    for (const [name, value] of Object.entries(opts.headers ?? {}))
      headers[name.toLowerCase()] = value;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(opts.form).toString();
    } else if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    const limit = opts.maxBytes ?? BODY_LIMITS.default;

    let hop: Hop = { url: first, method, headers, body };
    let hops = 0;
    let failures = 0;
    // A passing failure, asked again after a pause. Logged (debug) by method, host and path —
    // never the query, where a token or a code may ride — so an operator can see a flaky server.
    const askAgain = async (why: string) => {
      failures += 1;
      log.debug("asking again", {
        host,
        method: where.method,
        path: where.path,
        why,
        try: failures,
      });
      await sleep(this.backoffMs * 2 ** (failures - 1), undefined, { signal: opts.signal });
    };
    let limited = 0;
    let refused = 0;
    const pacer = this.dispatcher.pacer;
    for (let sent = 0; ; sent++) {
      opts.signal?.throwIfAborted();
      const gate = sent > 0 ? attemptGates.getStore() : undefined;
      if (gate && !(await gate())) throw new OverBudgetError(host);
      const target = hop.url;
      const bucket = pacer.bucketOf(target.origin, hop.headers.authorization);
      const rule = pacer.ruleOf(target.origin);
      const release = await pacer.turn(bucket, host, opts.signal);
      // Ours to abort: a body past its cap closes the connection instead of draining it.
      const attempt = new AbortController();
      const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
      const signal = AbortSignal.any([
        attempt.signal,
        timeout,
        ...(opts.signal ? [opts.signal] : []),
      ]);
      let res: Response | undefined;
      try {
        res = await fetch(target, {
          method: hop.method,
          headers: opts.sign
            ? {
                ...hop.headers,
                ...signatureHeaders(opts.sign, { method: hop.method, url: target, body: hop.body }),
              }
            : hop.headers,
          body: hop.body,
          // Every hop is ours to judge (see `redirected`); undici would re-send the body anywhere.
          redirect: "manual",
          signal,
          dispatcher: this.dispatcher,
        });
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        const translated = translate(err, host, where, first.host);
        const retryable = !(translated instanceof ForbiddenAddressError) && idempotent;
        if (retryable && failures < (opts.retries ?? RETRIES_ON_FAILURE)) {
          await askAgain("unreachable");
          continue;
        }
        throw translated;
      } finally {
        // The dispatcher has seen the status by now (and blocked the bucket on a limit);
        // the pacer judges a status its rule calls ambiguous.
        release(res?.status);
        metrics.requests.inc({ host, status: statusClass(res?.status) });
      }
      if (REDIRECTS.has(res.status)) {
        attempt.abort();
        hops += 1;
        hop = redirected(hop, res, { redirect: opts.redirect, host, where, hops });
        continue;
      }
      const answered = res.ok || allow.includes(res.status);
      let bytes: Uint8Array;
      try {
        const read = await readBody(res, answered ? limit : ERROR_BODY_BYTES, attempt, answered);
        if (read.over && answered) {
          throw new TooLargeError(
            `${host} answered with more than ${sizeOf(limit)}`,
            host,
            res.status,
            where,
          );
        }
        bytes = read.bytes;
      } catch (err) {
        if (err instanceof RemoteError) throw err;
        if (opts.signal?.aborted) throw opts.signal.reason;
        // Cut off mid-body (a timeout, a reset): only what arrived counts for an error's text.
        if (!answered) bytes = new Uint8Array();
        else if (idempotent && failures < (opts.retries ?? RETRIES_ON_FAILURE)) {
          // A read cut short is asked again, as one that never got through.
          await askAgain("answer cut short");
          continue;
        } else throw translate(err, host, where, first.host);
      }
      const text = new TextDecoder().decode(bytes);
      if (answered) {
        let next: string | undefined;
        try {
          next = nextLink(res.headers.get("link"), target.origin, host);
        } catch (err) {
          // A next link that is no URL: a page whose headers came garbled is asked for again.
          if (!idempotent || failures >= (opts.retries ?? RETRIES_ON_FAILURE)) throw err;
          await askAgain("next link unreadable");
          continue;
        }
        return {
          ok: res.ok,
          bytes,
          text,
          status: res.status,
          headers: res.headers,
          next,
          host,
          where,
        };
      }

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
          { ...where, cause: refusal(host, res.status, text, where) },
        );
      }
      if (rule && res.status === rule.limitStatus) {
        // The pacer blocked the origin when the status came; the next turn waits it out.
        refused += 1;
        if (refused < rule.tries) continue;
        const until = new Date(pacer.state(bucket)?.resetAt ?? Date.now());
        throw new RateLimitedError(`${host} keeps refusing (HTTP ${res.status})`, host, until, {
          ...where,
          cause: refusal(host, res.status, text, where),
        });
      }
      if (res.status >= 500 && idempotent && failures < (opts.retries ?? RETRIES_ON_FAILURE)) {
        await askAgain("server error");
        continue;
      }
      if (res.status >= 500) {
        throw new BadResponseError(
          `${host} is having trouble (HTTP ${res.status})`,
          host,
          res.status,
          where,
        );
      }
      throw refusal(host, res.status, text, where);
    }
  }
}

/** A 4xx, with the server's own text. */
function refusal(host: string, status: number, body: string, where: Where): RejectedError {
  const detail = errorDetail(body);
  return new RejectedError(
    `${host} refused: ${detail || `HTTP ${status}`}`,
    host,
    status,
    detail,
    where,
  );
}

/**
 * Maps what fetch throws onto our classes, keeping the original as `cause`. `host` is the
 * one to name, `contacted` the one reached in its place (the guard's errors name that one).
 */
export function translate(
  err: unknown,
  host: string,
  where: Where = {},
  contacted = host,
): RemoteError {
  if (err instanceof RemoteError) return err;
  const chain: unknown[] = [];
  for (let e: unknown = err; e && chain.length < 6; e = (e as { cause?: unknown }).cause)
    chain.push(e);
  const guard = chain.find((e) => e instanceof ForbiddenAddressError);
  if (guard) {
    return new ForbiddenAddressError(guard.message.replaceAll(contacted, host), host, {
      ...where,
      cause: err,
    });
  }
  if (
    chain.some(
      (e) => e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError"),
    )
  ) {
    return new TimeoutError(`${host} did not answer in time`, host, { ...where, cause: err });
  }
  const code = chain
    .map((e) => (e as { code?: unknown }).code)
    .find((c) => typeof c === "string") as string | undefined;
  if (
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT"
  ) {
    return new TimeoutError(`${host} did not answer in time`, host, { ...where, cause: err });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new UnreachableError(`${host} was not found`, host, { ...where, cause: err });
  }
  return new UnreachableError(`${host} could not be reached`, host, { ...where, cause: err });
}
