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
import { log } from "../log.js";
import { metrics } from "../metrics.js";
import type { SharedLimits } from "../store/store.js";

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
  metrics.waits.inc({ host });
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
  /** When the latest requests were booked to leave, oldest first (at most `limit` of them). */
  sent: number[];
  /** Requests sent and not yet answered, under a rule whose refusal comes after the fact. */
  inFlight: number;
  /** Who waits for one of them to be answered. */
  waiting: (() => void)[];
  /** How long a request takes from sending to its answer, averaged (the c of R·c). */
  cycleMs: number | undefined;
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
  private shared?: SharedLimits;
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
      inFlight: 0,
      waiting: [],
      cycleMs: undefined,
    });
  }

  /**
   * Keeps the rules' spacing and blocks and the servers' announced windows in the store
   * (Redis), where every process on it sees them: together they send what one may.
   */
  share(limits: SharedLimits): void {
    this.shared = limits;
  }

  /**
   * How many requests of a rule whose refusal comes after the fact may be in flight: ⌈R·c⌉,
   * R the rule's rate and c a request's time, so that the limit is reached at any latency
   * with no more on their way than that when a refusal comes; one until c is known.
   */
  lanes(origin: string): number {
    const state = this.rules.get(origin);
    if (!state) return Number.POSITIVE_INFINITY;
    const { limit, windowMs } = state.rule;
    return Math.max(1, Math.ceil((limit / windowMs) * (state.cycleMs ?? 0)));
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
   * Http's turn to send: `ready`, and under a rule also the spacing and, where the rule's
   * refusal comes after the fact, a lane (`lanes`). Call the returned function with the
   * answer's status once it is known, or without one when the request failed: it frees the
   * lane, and judges an ambiguous status by whether the request came after a quiet window.
   */
  async turn(
    bucket: string,
    host: string,
    signal?: AbortSignal,
  ): Promise<(status?: number) => void> {
    const state = this.rules.get(bucket);
    if (!state) {
      await this.ready(bucket, host, signal);
      return () => {};
    }
    const laned = afterTheFact(state.rule);
    if (laned) await this.lane(bucket, state, signal);
    let gap: number;
    try {
      await this.ready(bucket, host, signal);
      gap = await this.spaced(bucket, state, host, signal);
    } catch (err) {
      if (laned) this.free(state);
      throw err;
    }
    if (!laned) return () => {};
    const sentAt = Date.now();
    let done = false;
    return (status) => {
      if (done) return;
      done = true;
      this.free(state);
      const took = Date.now() - sentAt;
      state.cycleMs = state.cycleMs === undefined ? took : 0.8 * state.cycleMs + 0.2 * took;
      const { rule } = state;
      // The limit is per window: one refused after a quiet window (nothing sent in the window
      // before it) is another refusal, and blocks nothing.
      if (status === rule.ambiguousStatus && gap >= 0 && gap < rule.windowMs) {
        metrics.refusals.inc({ host });
        this.block(bucket, new Date(Date.now() + rule.blockMs));
      }
    };
  }

  /** Waits for a free lane of the rule. */
  private async lane(bucket: string, state: RuleState, signal?: AbortSignal): Promise<void> {
    while (state.inFlight >= this.lanes(bucket)) {
      signal?.throwIfAborted();
      await abortable(new Promise<void>((resolve) => state.waiting.push(resolve)), signal);
    }
    state.inFlight += 1;
  }

  private free(state: RuleState): void {
    state.inFlight -= 1;
    for (const wake of state.waiting.splice(0)) wake();
  }

  /**
   * Books the next send that keeps any stretch of the rule's window (and the slack) at or
   * under its limit and comes after any block, in the store when it is shared, and waits for
   * it. Answers how long after the send booked before it this one goes (-1: none known).
   */
  private async spaced(
    bucket: string,
    state: RuleState,
    host: string,
    signal?: AbortSignal,
  ): Promise<number> {
    const { limit, windowMs } = state.rule;
    let booked: { waitMs: number; gapMs: number } | undefined;
    if (this.shared) {
      booked = await this.shared.book(bucket, limit, windowMs, this.slackMs).catch((err) => {
        log.warn("pacer: the shared limit is unreachable; pacing in this process", { err });
        return undefined;
      });
    }
    booked ??= this.bookHere(state);
    const { waitMs, gapMs } = booked;
    if (waitMs > ANNOUNCE_SPACING_MS) announce(new Date(Date.now() + waitMs), host);
    if (waitMs > 0) await pause(waitMs, signal);
    return gapMs;
  }

  /** `spaced`'s booking in this process alone. */
  private bookHere(state: RuleState): { waitMs: number; gapMs: number } {
    const { sent } = state;
    const { limit, windowMs } = state.rule;
    const now = Date.now();
    let at = now;
    if (sent.length >= limit)
      at = Math.max(at, sent[sent.length - limit]! + windowMs + this.slackMs);
    const last = sent.at(-1);
    if (last !== undefined) at = Math.max(at, last);
    sent.push(at);
    if (sent.length > limit) sent.splice(0, sent.length - limit);
    return { waitMs: at - now, gapMs: last === undefined ? -1 : at - last };
  }

  /** Resolves when a request in this bucket may go, and counts it. */
  async take(bucket: string, host: string): Promise<void> {
    if (this.shared && !this.rules.has(bucket)) return this.takeShared(this.shared, bucket, host);
    return this.takeHere(bucket, host);
  }

  private async takeHere(bucket: string, host: string): Promise<void> {
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

  /** `take` from the window every process takes from (the server counts them all). */
  private async takeShared(shared: SharedLimits, bucket: string, host: string): Promise<void> {
    for (;;) {
      const wait = await shared.takeWindow(bucket).catch((err) => {
        log.warn("pacer: the shared limit is unreachable; pacing in this process", { err });
        return undefined;
      });
      if (wait === undefined) return this.takeHere(bucket, host);
      if (wait <= 0) return;
      announce(new Date(Date.now() + wait + this.slackMs), host);
      await this.waitOn(bucket, wait + this.slackMs);
    }
  }

  /**
   * What the server said after a request: its limit headers, or its rule's limit status (an
   * ambiguous status is judged when Http hands it to the function `turn` gave).
   */
  observe(bucket: string, h: LimitHeaders, status: number): void {
    const rule = this.rules.get(bucket)?.rule;
    if (status === 429 || (rule && rule.limitStatus === status))
      metrics.refusals.inc({ host: new URL(bucket.split("#")[0]!).host });
    if (rule && rule.limitStatus === status) {
      this.block(bucket, new Date(Date.now() + rule.blockMs));
      return;
    }
    if (rule?.ambiguousStatus === status) return;
    if (!h.reset) return;
    const resetAt = h.reset.getTime();
    const prev = this.windows.get(bucket);
    let remaining = h.remaining ?? prev?.remaining ?? 1;
    if (status === 429) remaining = 0;
    if (this.shared && !rule) {
      this.shared
        .observeWindow(bucket, remaining, resetAt - Date.now(), status === 429)
        .catch((err) => log.warn("pacer: could not share a server's limit", { err }));
    }
    // Same window: keep the lower count, since requests in flight were already taken from it.
    if (prev && Math.abs(prev.resetAt - resetAt) < 1000)
      remaining = Math.min(prev.remaining, remaining);
    this.windows.set(bucket, { limit: h.limit ?? prev?.limit ?? remaining, remaining, resetAt });
  }

  /** Nothing leaves for this bucket until then (in every process, when the limits are shared). */
  block(bucket: string, until: Date): void {
    this.windows.set(bucket, { limit: 0, remaining: 0, resetAt: until.getTime() });
    this.shared
      ?.block(bucket, until.getTime() - Date.now())
      .catch((err) => log.warn("pacer: could not share a block", { err }));
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
    this.shared
      ?.unblock(bucket)
      .catch((err) => log.warn("pacer: could not lift a shared block", { err }));
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

/**
 * A rule whose status may say "limit" (after the fact, without headers) keeps at most
 * `lanes` requests in flight: no more are on their way when it comes.
 */
function afterTheFact(rule: Rule): boolean {
  return rule.limitStatus !== undefined || rule.ambiguousStatus !== undefined;
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
