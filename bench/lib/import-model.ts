/**
 * The import's pacing as arithmetic, to explain what the bench measures. The model is of
 * pacing that only reacts to 403s: one request at a time to micro.blog (the Pacer's queue for
 * its origin), nothing known of the limit until a 403, and then every request blocked for
 * `blockMs` from the refusal (plus the Pacer's slack). The stand-in counts every request at
 * arrival, refused ones too, in fixed windows aligned to multiples of the window.
 *
 * With c the time from one request's arrival to the next one's (latency plus the client's
 * own work) and R = limit / window:
 *  - R·c ≥ 1: the queue is slower than the limit, which is never reached: rate = 1/c;
 *  - R·c < 1: each window's budget is spent in limit·c, the next request is refused, and
 *    the block then runs a whole window from the refusal, into the next window by as much
 *    as the burst took. What that costs depends on R·c, in a sawtooth: little near 0 and
 *    0.5, about 1/(2·R·c) just under 1.
 */

export interface ClientPacing {
  limit: number;
  windowMs: number;
  /** Arrival to next arrival, while nothing is blocked. */
  cycleMs: number;
  latencyMs: number;
  blockMs: number;
  slackMs: number;
}

/**
 * Time for `requests` answered requests, the client's way: one at a time, every `cycleMs`;
 * a refused one is answered after the latency, then nothing leaves until `blockMs` +
 * `slackMs` later. Starts `startMs` into a window (the bench starts just after a boundary).
 */
export function blockAfter403(
  p: ClientPacing,
  requests: number,
  startMs = 2,
): { ms: number; refused: number } {
  const counts = new Map<number, number>();
  let t = startMs;
  let answered = 0;
  let refused = 0;
  while (answered < requests) {
    const w = Math.floor(t / p.windowMs);
    const n = (counts.get(w) ?? 0) + 1;
    counts.set(w, n);
    if (n > p.limit) {
      refused += 1;
      t += p.latencyMs + p.blockMs + p.slackMs + Math.max(0, p.cycleMs - p.latencyMs);
    } else {
      answered += 1;
      t += p.cycleMs;
    }
  }
  return { ms: t - startMs, refused };
}

/** Answered requests per second ÷ R for the client's way, as blockAfter403 simulates it. */
export function modelRatio(p: ClientPacing, requests: number): number {
  const { ms } = blockAfter403(p, requests);
  return requests / (ms / 1000) / (p.limit / (p.windowMs / 1000));
}

/** The most one request in flight can do: 1/c, as a fraction of R (at most 1). */
export function queueCeiling(p: Pick<ClientPacing, "limit" | "windowMs" | "cycleMs">): number {
  const rate = 1000 / p.cycleMs;
  return Math.min(1, rate / (p.limit / (p.windowMs / 1000)));
}
