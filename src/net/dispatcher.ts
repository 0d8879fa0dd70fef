/**
 * The one network door. Every request to a server a user names (Mastodon, the
 * Fediverse, micro.blog) goes through Http and this undici Agent, which
 *  - refuses private, loopback and link-local addresses (and plain http) unless
 *    the operator allows them, at connect time and on every redirect hop;
 *  - waits for the pacer before sending, and feeds it the limit headers after;
 *  - opens at most a few connections per origin: the rest wait in undici's queue
 *    instead of each taking a socket (10,000 watches polling at once ran out of
 *    file descriptors, EMFILE, and timed out by the thousand: bench/watch.ts).
 */
import { Agent, type Dispatcher } from "undici";
import { checkUrl, guardedLookup } from "./net-guard.js";
import { type Pacer, readLimitHeaders } from "./pacer.js";

function headerValue(
  headers: Dispatcher.DispatchOptions["headers"],
  name: string,
): string | undefined {
  if (!headers) return undefined;
  if (Array.isArray(headers)) {
    for (let k = 0; k + 1 < headers.length; k += 2) {
      if (String(headers[k]).toLowerCase() === name) return String(headers[k + 1]);
    }
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === "function") {
    for (const [k, v] of headers as Iterable<[string, string | string[] | undefined]>) {
      if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : (v as string | undefined);
  }
  return undefined;
}

function rawHeaderGetter(raw: Buffer[] | string[] | null): (name: string) => string | undefined {
  const map = new Map<string, string>();
  if (raw) {
    for (let k = 0; k + 1 < raw.length; k += 2)
      map.set(String(raw[k]).toLowerCase(), String(raw[k + 1]));
  }
  return (name) => map.get(name);
}

/**
 * Connections kept open to one origin at most. A Mastodon server is a few Puma
 * workers of a few threads each (mastodon/mastodon config/puma.rb: WEB_CONCURRENCY
 * 2, MAX_THREADS 5 by default): more connections than that only queue there.
 */
export const CONNECTIONS_PER_ORIGIN = 16;

export class GuardedDispatcher extends Agent {
  constructor(
    readonly pacer: Pacer,
    private readonly allowPrivate: boolean,
    connectTimeoutMs = 10_000,
    connectionsPerOrigin = CONNECTIONS_PER_ORIGIN,
  ) {
    super({
      connect: { lookup: guardedLookup(allowPrivate), timeout: connectTimeoutMs },
      connections: connectionsPerOrigin,
    });
  }

  override dispatch(
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandlers,
  ): boolean {
    const origin = String(opts.origin ?? "");
    let url: URL;
    try {
      url = new URL(origin);
      checkUrl(url, this.allowPrivate);
    } catch (err) {
      queueMicrotask(() => handler.onError?.(err as Error));
      return true;
    }
    const bucket = this.pacer.bucketOf(url.origin, headerValue(opts.headers, "authorization"));
    const pacer = this.pacer;
    const observing: Dispatcher.DispatchHandlers = new Proxy(handler, {
      get(target, prop) {
        if (prop === "onHeaders") {
          return (status: number, raw: Buffer[], resume: () => void, text: string) => {
            pacer.observe(bucket, readLimitHeaders(rawHeaderGetter(raw)), status);
            return target.onHeaders?.(status, raw, resume, text) ?? true;
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    this.pacer.take(bucket, url.host).then(
      () => super.dispatch(opts, observing),
      (err: Error) => handler.onError?.(err),
    );
    return true;
  }
}
