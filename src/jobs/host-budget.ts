/**
 * A request budget per host for work that polls on its own (the watcher): all
 * users whose old account is on one server share it, so a thousand people moving
 * from one instance don't poll it a thousand times an hour. In-process; with
 * several processes each keeps its own share.
 */
export class HostBudget {
  private readonly used = new Map<string, { windowStart: number; count: number }>();

  constructor(
    private readonly perHour: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one request for this host if the hour has room; false means try at nextAt(). */
  tryTake(host: string): boolean {
    const t = this.now();
    let w = this.used.get(host);
    if (!w || t - w.windowStart >= 3_600_000) {
      w = { windowStart: t, count: 0 };
      this.used.set(host, w);
    }
    if (w.count >= this.perHour) return false;
    w.count += 1;
    return true;
  }

  nextAt(host: string): number {
    const w = this.used.get(host);
    return w ? w.windowStart + 3_600_000 : this.now();
  }

  /** Requests granted for this host in the current hour (the bench reads it). */
  usedNow(host: string): number {
    return this.used.get(host)?.count ?? 0;
  }
}
