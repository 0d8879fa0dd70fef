/**
 * A request budget per host for work that polls on its own (the watcher): all
 * users whose old account is on one server share it, so a thousand people moving
 * from one instance don't poll it a thousand times an hour. A token bucket that
 * refills evenly, taken per HTTP request (Http's retries too, each before it goes), holding
 * at most a sixth of the hour: a fixed hourly window let any rolling hour carry
 * twice the budget (bench/watch.ts). It refills by the budget less that sixth over
 * the hour, so a full bucket spent at once and an hour of refills add up to the
 * budget, never more, in any rolling hour. A server counts a request when it arrives, which
 * can be up to `reachMs` (the HTTP timeout) after the budget let it go: the refill spreads
 * over the hour and that much more, so arrivals too stay within the budget in any rolling
 * hour. In this process (HostBudget), or in the store's Redis for every process on it
 * (SharedHostBudget, `hostBudget`).
 *
 * A request refused for now is given a place in line (`reserve`): its tokens are promised
 * at once, in debt if need be, and it goes when the refill has paid that back, after every
 * one put off before it. Put-off polls then wake one at a time, each to a request that
 * fits, instead of all waking at the next token to be refused again.
 */
import { log } from "../log.js";
import type { SharedLimits, Store } from "../store/store.js";

/** What the watcher asks of a budget, in this process or shared. */
export interface Budget {
  /**
   * Takes `n` requests for this host if there is room now; false means try at nextAt(), or
   * reserve. With `key`, a place that key reserved for this host (and at least `n`) is used,
   * and what it holds beyond `n` is kept for the key's next requests.
   */
  tryTake(host: string, n?: number, key?: string): boolean | Promise<boolean>;
  /**
   * Takes `n` requests for this host now, in debt if need be, for `key` to use by tryTake at
   * the time this returns: when the refill has paid back this and every earlier reservation,
   * and not before `notBefore`. A key that holds a place for fewer keeps it and takes the
   * difference, at the end of the line.
   */
  reserve(host: string, n: number, key: string, notBefore?: number): number | Promise<number>;
  /** When `n` requests will fit, at the earliest. */
  nextAt(host: string, n?: number): number | Promise<number>;
  /**
   * The most requests one take can ever hold (the bucket's size): asked for more at once, a
   * take never succeeds, so a caller splits or trims what it asks.
   */
  readonly most: number;
}

/** The bucket's size: a sixth of the hour's budget (at least one request). */
const burstOf = (perHour: number) => Math.max(1, perHour / 6);

/**
 * What the budget lets through an hour, hour after hour, once the burst is spent: the refill,
 * which is the budget less the burst, so that burst and refill never exceed it in any hour.
 */
export const sustainedPerHour = (perHour: number) => Math.max(0, perHour - burstOf(perHour));

/**
 * The bucket a budget of `perHour` keeps: its size, the refill per ms (spread over the hour and
 * the reach allowance), and the most one take can hold.
 */
function bucketOf(perHour: number, hourMs: number, reachMs: number) {
  const capacity = burstOf(perHour);
  return {
    capacity,
    perMs: sustainedPerHour(perHour) / (hourMs + reachMs),
    most: Math.floor(capacity),
  };
}

/** A place may be used this early (a timer's rounding, a clock a little behind another's). */
const EARLY_MS = 1000;

interface Place {
  host: string;
  n: number;
  at: number;
}

/** Places in line, by key: a key's tryTake for the host uses its place once its time has come. */
class Line {
  private readonly places = new Map<string, Place>();

  /**
   * The key's place on this host, if it holds one, at `notBefore` at the earliest: asked again,
   * a place is kept, not taken twice, and what a used place has left serves a later request.
   */
  held(key: string, host: string, notBefore: number): Place | undefined {
    const place = this.places.get(key);
    if (!place || place.host !== host) return undefined;
    place.at = Math.max(place.at, notBefore);
    return place;
  }

  add(key: string, place: Place, now: number): void {
    // A reserving job that was cancelled never comes back for its place: an hour later it goes.
    if (this.places.size >= 1024 && this.places.size % 1024 === 0) {
      for (const [k, p] of this.places) if (p.at < now - 3_600_000) this.places.delete(k);
    }
    this.places.set(key, place);
  }

  /**
   * The key's place for `n` on this host once its time has come; "wait" before. A place for
   * another host or fewer requests is given up (its requests stay taken).
   */
  due(key: string | undefined, host: string, n: number, now: number): Place | "wait" | undefined {
    if (key === undefined) return undefined;
    const place = this.places.get(key);
    if (!place) return undefined;
    if (place.host !== host || place.n < n) {
      this.places.delete(key);
      return undefined;
    }
    return place.at > now + EARLY_MS ? "wait" : place;
  }

  /** `n` of the place went; what it holds beyond them stays the key's for its next requests. */
  spend(key: string, place: Place, n: number): void {
    if (place.n > n) place.n -= n;
    else this.places.delete(key);
  }
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Two buckets per host, alike: `sent` counts requests when they go, `planned` when they are
 * promised (a place in line takes from it at once, in debt if need be). A request without a
 * place needs both, so it never jumps the line; one with a place needs `sent` alone, so that
 * places that come due together — a process that stalled, then runs every late timer at once —
 * still go no faster than the refill.
 */
export class HostBudget implements Budget {
  private readonly sent = new Map<string, Bucket>();
  private readonly planned = new Map<string, Bucket>();
  private readonly line = new Line();
  private readonly perMs: number;
  private readonly capacity: number;
  readonly most: number;

  constructor(
    perHour: number,
    private readonly now: () => number = Date.now,
    hourMs = 3_600_000,
    reachMs = 0,
  ) {
    ({
      capacity: this.capacity,
      perMs: this.perMs,
      most: this.most,
    } = bucketOf(perHour, hourMs, reachMs));
  }

  private bucket(of: Map<string, Bucket>, host: string, t: number): Bucket {
    const b = of.get(host) ?? { tokens: this.capacity, at: t };
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.at) * this.perMs);
    b.at = t;
    of.set(host, b);
    return b;
  }

  /** Ms until the bucket holds `n` (0 when it does). */
  private waitFor(b: Bucket, n: number): number {
    if (b.tokens >= n) return 0;
    return this.perMs > 0 ? Math.ceil((n - b.tokens) / this.perMs) : 3_600_000;
  }

  tryTake(host: string, n = 1, key?: string): boolean {
    const now = this.now();
    const place = this.line.due(key, host, n, now);
    if (place === "wait") return false;
    const sent = this.bucket(this.sent, host, now);
    if (place) {
      if (sent.tokens < n) {
        place.at = now + this.waitFor(sent, n);
        return false;
      }
      sent.tokens -= n;
      this.line.spend(key!, place, n);
      return true;
    }
    const planned = this.bucket(this.planned, host, now);
    if (planned.tokens < n || sent.tokens < n) return false;
    planned.tokens -= n;
    sent.tokens -= n;
    return true;
  }

  reserve(host: string, n: number, key: string, notBefore = 0): number {
    const held = this.line.held(key, host, notBefore);
    if (held && held.n >= n) return held.at;
    // Asked for more than it holds, a place grows by the difference, which waits its turn.
    const now = this.now();
    const planned = this.bucket(this.planned, host, now);
    planned.tokens -= n - (held?.n ?? 0);
    const at = Math.max(notBefore, held?.at ?? 0, now + this.waitFor(planned, 0));
    this.line.add(key, { host, n, at }, now);
    return at;
  }

  nextAt(host: string, n = 1): number {
    const now = this.now();
    return (
      now +
      Math.max(
        this.waitFor(this.bucket(this.sent, host, now), n),
        this.waitFor(this.bucket(this.planned, host, now), n),
      )
    );
  }

  /** What is left for this host now, by the requests sent (the bench and tests read it). */
  available(host: string): number {
    return this.bucket(this.sent, host, this.now()).tokens;
  }
}

/**
 * The same buckets in the store's Redis: processes on it together take what one may. When
 * Redis can't be reached, a poll is put off (never sent over budget) and tried again soon.
 * Places in line are kept in the process that took them (a job run elsewhere takes anew).
 */
export class SharedHostBudget implements Budget {
  private readonly perMs: number;
  private readonly capacity: number;
  readonly most: number;
  private readonly line = new Line();
  /** How long the latest refusal said to wait, per host and size. */
  private readonly refused = new Map<string, number>();

  constructor(
    private readonly limits: SharedLimits,
    perHour: number,
    reachMs = 0,
  ) {
    ({
      capacity: this.capacity,
      perMs: this.perMs,
      most: this.most,
    } = bucketOf(perHour, 3_600_000, reachMs));
  }

  async tryTake(host: string, n = 1, key?: string): Promise<boolean> {
    const place = this.line.due(key, host, n, Date.now());
    if (place === "wait") return false;
    if (place) {
      const wait = await this.take(`budget:${host}`, n, false);
      if (wait > 0) {
        place.at = Date.now() + wait;
        return false;
      }
      this.line.spend(key!, place, n);
      return true;
    }
    // The line first (a refusal there costs nothing), then what goes now; a refusal there,
    // after a stall, leaves the line's tokens taken: a little less sent, never more.
    const wait =
      (await this.take(`budget-line:${host}`, n, false)) ||
      (await this.take(`budget:${host}`, n, false));
    if (wait > 0) this.refused.set(`${n}:${host}`, Date.now() + wait);
    return wait === 0;
  }

  /** As the latest refusal of `n` said (the bucket only refills, so that is when they fit). */
  async nextAt(host: string, n = 1): Promise<number> {
    const at = this.refused.get(`${n}:${host}`) ?? Date.now();
    this.refused.delete(`${n}:${host}`);
    return at;
  }

  async reserve(host: string, n: number, key: string, notBefore = 0): Promise<number> {
    const held = this.line.held(key, host, notBefore);
    if (held && held.n >= n) return held.at;
    try {
      // Asked for more than it holds, a place grows by the difference, which waits its turn.
      const wait = await this.limits.takeTokens(
        `budget-line:${host}`,
        n - (held?.n ?? 0),
        this.perMs,
        this.capacity,
        true,
      );
      const at = Math.max(notBefore, held?.at ?? 0, Date.now() + wait);
      this.line.add(key, { host, n, at }, Date.now());
      return at;
    } catch (err) {
      log.warn("watch: the shared budget is unreachable; putting the poll off", { host, err });
      return Date.now() + 60_000;
    }
  }

  private async take(name: string, n: number, force: boolean): Promise<number> {
    try {
      return await this.limits.takeTokens(name, n, this.perMs, this.capacity, force);
    } catch (err) {
      log.warn("watch: the shared budget is unreachable; putting the poll off", { name, err });
      return 60_000;
    }
  }
}

/** The budget for the watcher: in the store when it shares limits (Redis), else in this process. */
export function hostBudget(store: Store, perHour: number, reachMs = 0): Budget {
  return store.limits
    ? new SharedHostBudget(store.limits, perHour, reachMs)
    : new HostBudget(perHour, Date.now, 3_600_000, reachMs);
}
