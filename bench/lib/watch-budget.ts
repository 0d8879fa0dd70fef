/**
 * The watcher's HostBudget on a compressed clock, and what the bench counts against it.
 *
 * HostBudget's window is a fixed 3,600,000 ms of its own clock, which it takes as a
 * constructor argument. Here that clock runs `3,600,000 / hourMs` times faster than the
 * wall clock, so one budget hour lasts `hourMs` of real time; nextAt() turns the end of a
 * window back into wall time, which is what the job runner schedules by. Nothing in src/
 * changes: the same class, its own window logic, a faster clock.
 *
 * Times are kept in typed arrays allocated before the baseline memory figure, so that
 * the bench's own records don't count as memory per watch.
 */
import { HostBudget } from "../../src/jobs/host-budget.js";

/** Times (ms) of events, appended into a buffer allocated up front. */
export class TimeLog {
  readonly #times: Float64Array;
  #count = 0;
  /** Events that didn't fit (the figures would then be wrong, and the report says so). */
  dropped = 0;

  constructor(capacity: number) {
    this.#times = new Float64Array(capacity);
  }

  add(t: number): void {
    if (this.#count < this.#times.length) this.#times[this.#count++] = t;
    else this.dropped += 1;
  }

  get count(): number {
    return this.#count;
  }

  /** In the order they were added (arrival order: non-decreasing). */
  get times(): Float64Array {
    return this.#times.subarray(0, this.#count);
  }
}

export class ScaledBudget extends HostBudget {
  readonly #t0: number;
  readonly #scale: number;
  readonly #grants = new Map<string, TimeLog>();
  readonly #taken = new Map<string, TimeLog>();
  #denied = 0;

  /**
   * perHour: requests a (compressed) hour, as HostBudget takes them; hourMs: how long that
   * hour lasts in wall time; hosts: the hosts whose grants are recorded, known up front;
   * reachMs: how long a request takes to reach the server at most, in wall time (which
   * doesn't compress: on the budget's clock it lasts `scale` times longer).
   */
  constructor(
    perHour: number,
    hourMs: number,
    hosts: readonly string[],
    capacity: number,
    reachMs: number,
  ) {
    const t0 = Date.now();
    const scale = 3_600_000 / hourMs;
    super(perHour, () => t0 + (Date.now() - t0) * scale, 3_600_000, reachMs * scale);
    this.#t0 = t0;
    this.#scale = scale;
    for (const h of hosts) {
      this.#grants.set(h, new TimeLog(capacity));
      this.#taken.set(h, new TimeLog(capacity));
    }
  }

  /**
   * One grant logged per poll's lookup (n = 1, taken under the watch's key); list pages
   * (n > 1) and retries (no key) are taken, not logged.
   */
  override tryTake(host: string, n = 1, key?: string): boolean {
    const ok = super.tryTake(host, n, key);
    if (ok && n === 1 && key !== undefined) this.#grants.get(host)?.add(Date.now());
    if (ok) for (let k = 0; k < n; k++) this.#taken.get(host)?.add(Date.now());
    return ok;
  }

  /** A place in line, in wall-clock time (counted as put off when later than asked for). */
  override reserve(host: string, n: number, key: string, notBefore?: number): number {
    const scaled =
      notBefore === undefined ? undefined : this.#t0 + (notBefore - this.#t0) * this.#scale;
    const at = this.#wall(super.reserve(host, n, key, scaled));
    if (notBefore === undefined || at > notBefore + 1) this.#denied += 1;
    return at;
  }

  /** When n requests fit, in wall-clock time. */
  override nextAt(host: string, n = 1): number {
    return this.#wall(super.nextAt(host, n));
  }

  #wall(at: number): number {
    return this.#t0 + (at - this.#t0) / this.#scale;
  }

  /** Every request the budget let go to the host (all `n` of a take), when it did. */
  takenOf(host: string): TimeLog {
    const t = this.#taken.get(host);
    if (!t) throw new Error(`host ${host} was not registered with the bench's budget`);
    return t;
  }

  grantsOf(host: string): TimeLog {
    const g = this.#grants.get(host);
    if (!g) throw new Error(`host ${host} was not registered with the bench's budget`);
    return g;
  }

  /** Runs (polls, ends) that found no room in the hour and were put off to their place in line. */
  get denied(): number {
    return this.#denied;
  }
}

/** The most events in any span of `windowMs` (a rolling window, as a server's limiter sees it). */
export function busiestWindow(times: ArrayLike<number>, windowMs: number): number {
  let most = 0;
  let from = 0;
  for (let to = 0; to < times.length; to++) {
    while (times[to]! - times[from]! >= windowMs) from += 1;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

/**
 * The hours as HostBudget counts them: one opens with the first grant after the last one
 * closed and lasts `windowMs`. The most grants, and the most requests, in one of them.
 */
export function busiestBudgetHour(
  grants: ArrayLike<number>,
  requests: ArrayLike<number>,
  windowMs: number,
): { grants: number; requests: number; hours: number } {
  let most = { grants: 0, requests: 0, hours: 0 };
  let r = 0;
  for (let g = 0; g < grants.length; ) {
    const start = grants[g]!;
    let taken = 0;
    while (g < grants.length && grants[g]! < start + windowMs) {
      taken += 1;
      g += 1;
    }
    while (r < requests.length && requests[r]! < start) r += 1;
    let sent = 0;
    for (let i = r; i < requests.length && requests[i]! < start + windowMs; i++) sent += 1;
    most = {
      grants: Math.max(most.grants, taken),
      requests: Math.max(most.requests, sent),
      hours: most.hours + 1,
    };
  }
  return most;
}
