/**
 * Pacing by the server's own limit headers (X-RateLimit-Limit/Remaining/Reset),
 * per bucket: an origin plus the credential, since Mastodon counts per token and,
 * without one, per address. Requests go at full speed while the window has room,
 * and wait for the reset when it has none — the fastest a limit allows.
 *
 * A server that counts per address and says so without headers (micro.blog) gets
 * a rule for its origin (`rule`): one bucket for every user, requests spaced so
 * that no stretch of its window holds more than its limit, and, where it signals
 * the limit with a status of its own, one request in flight at a time and that
 * status blocking the origin (Http tries the call again once the block is over).
 * Where that status also means other refusals (micro.blog's 403 is its limit, a bad
 * token and a refused follow alike), the pacer judges each one by the time it came
 * (`ambiguousStatus`), blocks only for what can be the limit, and says so
 * (`blockedUntil`); the caller tries again, or reads the refusal.
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

function announce(until: Date, host: string): void {
  waitListeners.getStore()?.(until, host);
}

/** A limit the server keeps per address and does not announce in headers. */
export interface OriginRule {
  /** At most this many requests leave in any stretch of `windowMs`, all users together. */
  limit: number;
  /** Default a minute. */
  windowMs?: number;
  /**
   * The status by which the server says the limit was hit (micro.blog: 403). It blocks
   * the origin for `blockMs`, and requests go one at a time, so that none is already on
   * its way when the refusal comes.
   */
  limitStatus?: number;
  /**
   * A status by which the server says the limit was hit, and other refusals too
   * (micro.blog's 403: "an HTTP error such as 403 Forbidden", help.micro.blog/t/rate-limiting/3861,
   * is also what a bad token or a refused follow can get). Requests go one at a time, as for
   * `limitStatus`, and each such answer is judged: the limit is per address and per window,
   * so one that comes after a quiet window — no other request to the origin in the `windowMs`
   * before it, which includes the first request after a block — is not the limit. What can
   * be the limit blocks the origin for `blockMs`; the rest blocks nothing. Http hands every
   * one back as the refusal it is; the caller asks `blockedUntil` and tries again (up to
   * `tries`) when the origin is blocked.
   */
  ambiguousStatus?: number;
  /** How long the limit status holds every request to the origin; default `windowMs`. */
  blockMs?: number;
  /** Tries of one call while the limit goes on, before giving up; default 3. */
  tries?: number;
}

/** An origin's rule with its defaults filled in. */
export interface Rule {
  readonly limit: number;
  readonly windowMs: number;
  readonly limitStatus: number | undefined;
  readonly ambiguousStatus: number | undefined;
  readonly blockMs: number;
  readonly tries: number;
}

interface RuleState {
  readonly rule: Rule;
  /** When the latest requests left, oldest first (at most `limit` of them). */
  sent: number[];
  /** The end of the queue of requests waiting for their turn. */
  tail: Promise<void>;
}

/** Spacing waits shorter than this are not worth telling a user about. */
const ANNOUNCE_SPACING_MS = 1000;

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
  private readonly rules = new Map<string, RuleState>();
  /** Who sleeps on a bucket's block, to wake when it is lifted early (`unblock`). */
  private readonly sleepers = new Map<string, Set<() => void>>();
  /** Waits this much past a reset, because clocks differ a little. */
  constructor(private readonly slackMs = 250) {}

  /** Registers (or replaces) the rule for an origin. */
  rule(origin: string, rule: OriginRule): void {
    const windowMs = rule.windowMs ?? 60_000;
    this.rules.set(new URL(origin).origin, {
      rule: {
        limit: rule.limit,
        windowMs,
        limitStatus: rule.limitStatus,
        ambiguousStatus: rule.ambiguousStatus,
        blockMs: rule.blockMs ?? windowMs,
        tries: rule.tries ?? 3,
      },
      sent: [],
      tail: Promise.resolve(),
    });
  }

  /** The rule for this origin, if one was registered. */
  ruleOf(origin: string): Rule | undefined {
    return this.rules.get(origin)?.rule;
  }

  /**
   * The bucket a request counts against: the origin and the credential (Mastodon
   * counts per token), or the origin alone without one, or where a rule says the
   * server counts per address (micro.blog), so every user of the bot shares one budget.
   */
  bucketOf(origin: string, authorization: string | undefined): string {
    if (!authorization || this.rules.has(origin)) return origin;
    return `${origin}#${createHash("sha256").update(authorization).digest("base64url").slice(0, 12)}`;
  }

  /**
   * Resolves when this bucket's window has room, without taking from it. Http
   * waits here before its timeout starts, so a wait of minutes for a reset is
   * not mistaken for a server that doesn't answer.
   */
  async ready(bucket: string, host: string, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const w = this.windows.get(bucket);
      const now = Date.now();
      if (!w || now >= w.resetAt || w.remaining > 0) return;
      const until = new Date(w.resetAt + this.slackMs);
      announce(until, host);
      await this.waitOn(bucket, until.getTime() - now, signal);
    }
  }

  /**
   * Http's turn to send: `ready`, and under a rule also the spacing and, where the rule
   * has a `limitStatus`, the queue. Call the returned function once the answer's status
   * is known (the dispatcher has seen it by then), or the request failed.
   */
  async turn(bucket: string, host: string, signal?: AbortSignal): Promise<() => void> {
    const state = this.rules.get(bucket);
    if (!state) {
      await this.ready(bucket, host, signal);
      return () => {};
    }
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = state.tail;
    state.tail = before.then(() => done);
    try {
      await abortable(before, signal);
      await this.ready(bucket, host, signal);
      await this.spaced(state, host, signal);
    } catch (err) {
      release();
      throw err;
    }
    if (!oneAtATime(state.rule)) release();
    return release;
  }

  /**
   * Waits until sending one more keeps any stretch of the rule's window at or under its
   * limit, then counts the send. Runs in the rule's queue, so the times are in order.
   */
  private async spaced(state: RuleState, host: string, signal?: AbortSignal): Promise<void> {
    const { sent } = state;
    const { limit, windowMs } = state.rule;
    if (sent.length >= limit) {
      const oldest = sent[sent.length - limit]!;
      const wait = oldest + windowMs + this.slackMs - Date.now();
      if (wait > ANNOUNCE_SPACING_MS) announce(new Date(Date.now() + wait), host);
      if (wait > 0) await pause(wait, signal);
    }
    sent.push(Date.now());
    if (sent.length > limit) sent.splice(0, sent.length - limit);
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
      announce(until, host);
      await this.waitOn(bucket, until.getTime() - now);
    }
  }

  /** What the server said after a request: its limit headers, or its rule's limit status. */
  observe(bucket: string, h: LimitHeaders, status: number): void {
    const state = this.rules.get(bucket);
    const rule = state?.rule;
    if (rule && rule.limitStatus === status) {
      this.block(bucket, new Date(Date.now() + rule.blockMs));
      return;
    }
    if (state && rule?.ambiguousStatus === status) {
      if (!cameAfterQuiet(state)) this.block(bucket, new Date(Date.now() + rule.blockMs));
      return;
    }
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

  /** Nothing leaves for this bucket until then. */
  block(bucket: string, until: Date): void {
    this.windows.set(bucket, { limit: 0, remaining: 0, resetAt: until.getTime() });
  }

  /** When the block on this bucket ends, while one is on (a limit was met); else undefined. */
  blockedUntil(bucket: string): Date | undefined {
    const w = this.windows.get(bucket);
    if (!w || w.remaining > 0 || w.resetAt <= Date.now()) return undefined;
    return new Date(w.resetAt);
  }

  /**
   * Lifts a block that turned out not to be the limit (micro.blog's 403 on /account/verify
   * is about the token), and wakes whoever waits on it.
   */
  unblock(bucket: string): void {
    if (!this.blockedUntil(bucket)) return;
    this.windows.delete(bucket);
    for (const wake of this.sleepers.get(bucket) ?? []) wake();
  }

  /** Sleeps `ms` on this bucket: less when the block is lifted, or the signal aborts (throwing its reason). */
  private async waitOn(bucket: string, ms: number, signal?: AbortSignal): Promise<void> {
    const woken = new AbortController();
    const wake = () => woken.abort();
    let sleepers = this.sleepers.get(bucket);
    if (!sleepers) {
      sleepers = new Set();
      this.sleepers.set(bucket, sleepers);
    }
    sleepers.add(wake);
    try {
      await pause(ms, signal ? AbortSignal.any([signal, woken.signal]) : woken.signal);
    } catch (err) {
      if (signal?.aborted || !woken.signal.aborted) throw err;
    } finally {
      sleepers.delete(wake);
      if (sleepers.size === 0) this.sleepers.delete(bucket);
    }
  }

  state(bucket: string): Readonly<Window> | undefined {
    return this.windows.get(bucket);
  }
}

/** A rule whose status may say "limit" keeps one request in flight: none is on its way when it comes. */
function oneAtATime(rule: Rule): boolean {
  return rule.limitStatus !== undefined || rule.ambiguousStatus !== undefined;
}

/**
 * Whether the request just answered (the latest sent: the rule's queue holds one at a time)
 * left after a quiet window: nothing else went to the origin in the window before it.
 */
function cameAfterQuiet(state: RuleState): boolean {
  const { sent } = state;
  const latest = sent.at(-1);
  const before = sent.at(-2);
  return latest === undefined || before === undefined || latest - before >= state.rule.windowMs;
}

/** Sleeps, or throws the signal's reason (as fetch would) when it aborts first. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  }
}

/** Waits for `p`, or throws the signal's reason when it aborts first. */
function abortable(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
