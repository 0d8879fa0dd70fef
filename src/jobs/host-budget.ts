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
 */
import { log } from "../log.js";
import type { SharedLimits, Store } from "../store/store.js";

/** What the watcher asks of a budget, in this process or shared. */
export interface Budget {
  /** Takes `n` requests for this host if there is room now; false means try at nextAt(). */
  tryTake(host: string, n?: number): boolean | Promise<boolean>;
  /** When `n` requests will fit, at the earliest. */
  nextAt(host: string, n?: number): number | Promise<number>;
  /** Charges `n` requests made anyway (a retry, the one last list): the refill pays them back. */
  charge(host: string, n?: number): void | Promise<void>;
}

export class HostBudget implements Budget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
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

  tryTake(host: string, n = 1): boolean {
    const b = this.bucket(host);
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
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

  constructor(
    private readonly limits: SharedLimits,
    perHour: number,
  ) {
    this.perMs = perHour / 3_600_000;
    this.capacity = Math.max(1, perHour / 6);
  }

  /** How long the latest refusal said to wait, per host and size. */
  private readonly refused = new Map<string, number>();

  async tryTake(host: string, n = 1): Promise<boolean> {
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
