/**
 * A request budget per host for work that polls on its own (the watcher): all
 * users whose old account is on one server share it, so a thousand people moving
 * from one instance don't poll it a thousand times an hour. A token bucket that
 * refills evenly, charged per HTTP request (Http's retries too: `charge`), holding
 * at most a sixth of the hour: a fixed hourly window let any rolling hour carry
 * twice the budget (bench/watch.ts). It refills by the budget less that sixth over
 * the hour, so a full bucket spent at once and an hour of refills add up to the
 * budget, never more, in any rolling hour. In this process (HostBudget), or in the
 * store's Redis for every process on it (SharedHostBudget, `hostBudget`).
 *
 * A request refused for now is given a place in line (`reserve`): its tokens are taken
 * at once, the bucket going into debt, and it goes when the refill has paid that back,
 * after every one put off before it. Put-off polls then wake one at a time, each to a
 * request that fits, instead of all waking at the next token to be refused again.
 */
import { log } from "../log.js";
import type { SharedLimits, Store } from "../store/store.js";

/** What the watcher asks of a budget, in this process or shared. */
export interface Budget {
  /**
   * Takes `n` requests for this host if there is room now; false means try at nextAt(), or
   * reserve. With `key`, a place that key reserved for this host (and at least `n`) is used.
   */
  tryTake(host: string, n?: number, key?: string): boolean | Promise<boolean>;
  /**
   * Takes `n` requests for this host now, in debt if need be, for `key` to use by tryTake at
   * the time this returns: when the refill has paid back this and every earlier reservation.
   */
  reserve(host: string, n: number, key: string): number | Promise<number>;
  /** When `n` requests will fit, at the earliest. */
  nextAt(host: string, n?: number): number | Promise<number>;
  /** Charges `n` requests made anyway (a retry, the one last list): the refill pays them back. */
  charge(host: string, n?: number): void | Promise<void>;
}

/** A place may be used this early (a timer's rounding, a clock a little behind another's). */
const EARLY_MS = 1000;

/** Places reserved, by key: a key's tryTake for the host uses its place once its time has come. */
class Reservations {
  private readonly places = new Map<string, { host: string; n: number; at: number }>();

  /** The key's place for `n` on this host, if it holds one (asked again, it is kept, not taken twice). */
  held(key: string, host: string, n: number): number | undefined {
    const place = this.places.get(key);
    return place && place.host === host && place.n >= n ? place.at : undefined;
  }

  add(key: string, host: string, n: number, at: number, now: number): void {
    // A reserving job that was cancelled never comes back for its place: an hour later it goes.
    if (this.places.size >= 1024 && this.places.size % 1024 === 0) {
      for (const [k, p] of this.places) if (p.at < now - 3_600_000) this.places.delete(k);
    }
    this.places.set(key, { host, n, at });
  }

  /**
   * Whether `key` may go now on its place for `n` on this host. A place whose time hasn't come
   * is kept; one for another host or fewer requests is given up (its requests stay taken).
   */
  use(key: string | undefined, host: string, n: number, now: number): boolean {
    if (key === undefined) return false;
    const place = this.places.get(key);
    if (!place) return false;
    const fits = place.host === host && place.n >= n;
    if (fits && place.at > now + EARLY_MS) return false;
    this.places.delete(key);
    return fits;
  }
}

export class HostBudget implements Budget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly reservations = new Reservations();
  private readonly perMs: number;
  private readonly capacity: number;

  constructor(
    perHour: number,
    private readonly now: () => number = Date.now,
    hourMs = 3_600_000,
  ) {
    this.capacity = Math.max(1, perHour / 6);
    this.perMs = Math.max(0, perHour - this.capacity) / hourMs;
  }

  private bucket(host: string) {
    const t = this.now();
    const b = this.buckets.get(host) ?? { tokens: this.capacity, at: t };
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.at) * this.perMs);
    b.at = t;
    this.buckets.set(host, b);
    return b;
  }

  tryTake(host: string, n = 1, key?: string): boolean {
    if (this.reservations.use(key, host, n, this.now())) return true;
    if (key !== undefined && this.reservations.held(key, host, n) !== undefined) return false;
    const b = this.bucket(host);
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }

  reserve(host: string, n: number, key: string): number {
    const held = this.reservations.held(key, host, n);
    if (held !== undefined) return held;
    const b = this.bucket(host);
    b.tokens -= n;
    const at = b.tokens >= 0 ? this.now() : this.now() + Math.ceil(-b.tokens / this.perMs);
    this.reservations.add(key, host, n, at, this.now());
    return at;
  }

  nextAt(host: string, n = 1): number {
    const b = this.bucket(host);
    return b.tokens >= n ? this.now() : this.now() + Math.ceil((n - b.tokens) / this.perMs);
  }

  charge(host: string, n = 1): void {
    this.bucket(host).tokens -= n;
  }

  /** What is left for this host now (the bench reads it). */
  available(host: string): number {
    return this.bucket(host).tokens;
  }
}

/**
 * The same bucket in the store's Redis: processes on it together take what one may. When
 * Redis can't be reached, a poll is put off (never sent over budget) and tried again soon.
 */
export class SharedHostBudget implements Budget {
  private readonly perMs: number;
  private readonly capacity: number;

  private readonly reservations = new Reservations();

  constructor(
    private readonly limits: SharedLimits,
    perHour: number,
  ) {
    // As HostBudget: the refill is the budget less the burst, so no rolling hour holds more.
    this.capacity = Math.max(1, perHour / 6);
    this.perMs = Math.max(0, perHour - this.capacity) / 3_600_000;
  }

  /** How long the latest refusal said to wait, per host and size. */
  private readonly refused = new Map<string, number>();

  async tryTake(host: string, n = 1, key?: string): Promise<boolean> {
    if (this.reservations.use(key, host, n, Date.now())) return true;
    if (key !== undefined && this.reservations.held(key, host, n) !== undefined) return false;
    const wait = await this.wait(host, n, false);
    if (wait > 0) this.refused.set(`${n}:${host}`, Date.now() + wait);
    return wait === 0;
  }

  /** As the latest refusal of `n` said (the bucket only refills, so that is when they fit). */
  async nextAt(host: string, n = 1): Promise<number> {
    const at = this.refused.get(`${n}:${host}`) ?? Date.now();
    this.refused.delete(`${n}:${host}`);
    return at;
  }

  async charge(host: string, n = 1): Promise<void> {
    await this.wait(host, n, true);
  }

  /** Taken in Redis in debt if need be; the place is kept here (another process just takes anew). */
  async reserve(host: string, n: number, key: string): Promise<number> {
    const held = this.reservations.held(key, host, n);
    if (held !== undefined) return held;
    try {
      const wait = await this.limits.takeTokens(
        `budget:${host}`,
        n,
        this.perMs,
        this.capacity,
        true,
      );
      this.reservations.add(key, host, n, Date.now() + wait, Date.now());
      return Date.now() + wait;
    } catch (err) {
      log.warn("watch: the shared budget is unreachable; putting the poll off", { host, err });
      return Date.now() + 60_000;
    }
  }

  private async wait(host: string, n: number, force: boolean): Promise<number> {
    try {
      return await this.limits.takeTokens(`budget:${host}`, n, this.perMs, this.capacity, force);
    } catch (err) {
      log.warn("watch: the shared budget is unreachable; putting the poll off", { host, err });
      return 60_000;
    }
  }
}

/** The budget for the watcher: in the store when it shares limits (Redis), else in this process. */
export function hostBudget(store: Store, perHour: number): Budget {
  return store.limits ? new SharedHostBudget(store.limits, perHour) : new HostBudget(perHour);
}
