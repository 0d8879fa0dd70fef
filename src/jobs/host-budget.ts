/**
 * A request budget per host for work that polls on its own (the watcher): all
 * users whose old account is on one server share it, so a thousand people moving
 * from one instance don't poll it a thousand times an hour. A token bucket that
 * refills evenly, charged per HTTP request, holding at most a sixth of the hour:
 * a fixed hourly window let any rolling hour carry twice the budget
 * (bench/watch.ts). It refills by the budget less that sixth over the hour, so a
 * full bucket spent at once and an hour of refills add up to the budget, never more,
 * in any rolling hour. In-process; with several processes each keeps its own share.
 */
export class HostBudget {
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

  /** Takes `n` requests for this host if there is room now; false means try at nextAt(). */
  tryTake(host: string, n = 1): boolean {
    const b = this.bucket(host);
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }

  /** When `n` requests will fit, at the earliest. */
  nextAt(host: string, n = 1): number {
    const b = this.bucket(host);
    return b.tokens >= n ? this.now() : this.now() + Math.ceil((n - b.tokens) / this.perMs);
  }

  /** What is left for this host now (the bench reads it). */
  available(host: string): number {
    return this.bucket(host).tokens;
  }
}
