/**
 * Pacing by the server's own limit headers (X-RateLimit-Limit/Remaining/Reset),
 * per bucket: an origin plus the credential, since Mastodon counts per token and,
 * without one, per address. Requests go at full speed while the window has room,
 * and wait for the reset when it has none — the fastest a limit allows.
 *
 * Whoever wants to tell a user about a wait registers a listener with
 * `reportWaits`; it is carried through async calls, so the export job hears about
 * waits caused by its own requests only.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

interface Window {
  limit: number;
  remaining: number;
  resetAt: number;
}

export type WaitListener = (until: Date, host: string) => void;
const waitListeners = new AsyncLocalStorage<WaitListener>();

export function reportWaits<T>(listener: WaitListener, fn: () => Promise<T>): Promise<T> {
  return waitListeners.run(listener, fn);
}

/** For a client that paces itself (micro.blog's): tell whoever listens, as the pacer does. */
export function announceWait(until: Date, host: string): void {
  waitListeners.getStore()?.(until, host);
}

/**
 * The bucket a request counts against: the origin and the credential (Mastodon
 * counts per token), or the origin alone for servers that count per address
 * (micro.blog), so every user of the bot shares one budget there.
 */
export function bucketOf(
  origin: string,
  authorization: string | undefined,
  perHost = false,
): string {
  if (!authorization || perHost) return origin;
  return `${origin}#${createHash("sha256").update(authorization).digest("base64url").slice(0, 12)}`;
}

export interface LimitHeaders {
  limit?: number;
  remaining?: number;
  reset?: Date;
}

/** Reads Mastodon-style limit headers; Reset is ISO 8601 (Mastodon) or epoch seconds (others). */
export function readLimitHeaders(get: (name: string) => string | undefined): LimitHeaders {
  const num = (v: string | undefined) =>
    v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
  const resetRaw = get("x-ratelimit-reset");
  let reset: Date | undefined;
  if (resetRaw) {
    const asNum = num(resetRaw);
    const parsed =
      asNum !== undefined ? new Date(asNum > 1e11 ? asNum : asNum * 1000) : new Date(resetRaw);
    if (!Number.isNaN(parsed.getTime())) reset = parsed;
  }
  const retryAfter = get("retry-after");
  if (!reset && retryAfter) {
    const secs = num(retryAfter);
    const at = secs !== undefined ? new Date(Date.now() + secs * 1000) : new Date(retryAfter);
    if (!Number.isNaN(at.getTime())) reset = at;
  }
  return {
    limit: num(get("x-ratelimit-limit")),
    remaining: num(get("x-ratelimit-remaining")),
    reset,
  };
}

export class Pacer {
  private readonly windows = new Map<string, Window>();
  /** Waits this much past a reset, because clocks differ a little. */
  constructor(private readonly slackMs = 250) {}

  /**
   * Resolves when this bucket's window has room, without taking from it. Http
   * waits here before its timeout starts, so a wait of minutes for a reset is
   * not mistaken for a server that doesn't answer.
   */
  async ready(bucket: string, host: string): Promise<void> {
    for (;;) {
      const w = this.windows.get(bucket);
      const now = Date.now();
      if (!w || now >= w.resetAt || w.remaining > 0) return;
      const until = new Date(w.resetAt + this.slackMs);
      waitListeners.getStore()?.(until, host);
      await sleep(until.getTime() - now);
    }
  }

  /** Resolves when a request in this bucket may go, and counts it. */
  async take(bucket: string, host: string): Promise<void> {
    for (;;) {
      const w = this.windows.get(bucket);
      const now = Date.now();
      if (!w || now >= w.resetAt) {
        if (w) this.windows.delete(bucket);
        return;
      }
      if (w.remaining > 0) {
        w.remaining -= 1;
        return;
      }
      const until = new Date(w.resetAt + this.slackMs);
      waitListeners.getStore()?.(until, host);
      await sleep(until.getTime() - now);
    }
  }

  /** What the server said after a request. */
  observe(bucket: string, h: LimitHeaders, status: number): void {
    if (!h.reset) return;
    const resetAt = h.reset.getTime();
    const prev = this.windows.get(bucket);
    let remaining = h.remaining ?? prev?.remaining ?? 1;
    if (status === 429) remaining = 0;
    // Same window: keep the lower count, since requests in flight were already taken from it.
    if (prev && Math.abs(prev.resetAt - resetAt) < 1000)
      remaining = Math.min(prev.remaining, remaining);
    this.windows.set(bucket, { limit: h.limit ?? prev?.limit ?? remaining, remaining, resetAt });
  }

  /** A server that signals its limit without headers (micro.blog answers 403): wait this long. */
  block(bucket: string, until: Date): void {
    this.windows.set(bucket, { limit: 0, remaining: 0, resetAt: until.getTime() });
  }

  state(bucket: string): Readonly<Window> | undefined {
    return this.windows.get(bucket);
  }
}
