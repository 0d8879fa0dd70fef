/**
 * The yardsticks of the snapshot bench: the fewest requests an export can make, and the
 * least time those requests can take under fixed-window rate limits and a latency per
 * request. Mastodon's windows (Rack::Attack) are `floor(now / period)`: aligned to epoch
 * multiples of the period, so the window a snapshot starts in is usually partial, and it
 * may already hold requests of the sign-in made with the same token.
 */

/** Mastodon's page sizes for the collections the snapshot reads. */
export const ACCOUNTS_PER_PAGE = 80;
/** lists (no lists: one request), blocks, mutes (no mutes: no relationships), domain blocks, bookmarks. */
export const OTHER_PARTS = 5;

/**
 * Requests to page through n accounts: Mastodon sends `next` on every full page, so an
 * exactly full last page is followed by one request for an empty page; n = 0 is one request.
 * ⌈n/80⌉ + (1 when 80 divides n) = ⌊n/80⌋ + 1.
 */
export const pagesFor = (n: number): number => Math.floor(n / ACCOUNTS_PER_PAGE) + 1;
/** One relationships request per non-empty page of follows (the batch is 80 ids). */
export const relationshipsFor = (n: number): number => Math.ceil(n / ACCOUNTS_PER_PAGE);

export interface MinimumRequests {
  following: number;
  relationships: number;
  followers: number;
  other: number;
  total: number;
  /** Requests that carry max_id (every page after the first), counted by the paging limit. */
  paging: number;
}

export function minimumRequests(follows: number, followers: number): MinimumRequests {
  const following = pagesFor(follows);
  const relationships = relationshipsFor(follows);
  const followerPages = pagesFor(followers);
  return {
    following,
    relationships,
    followers: followerPages,
    other: OTHER_PARTS,
    total: following + relationships + followerPages + OTHER_PARTS,
    paging: following - 1 + (followerPages - 1),
  };
}

/** The kinds of request in the order the snapshot job must make them. */
export function requestOrder(follows: number, followers: number): ("page" | "paging" | "plain")[] {
  const order: ("page" | "paging" | "plain")[] = [];
  const following = pagesFor(follows);
  for (let p = 0; p < following; p++) {
    order.push(p === 0 ? "page" : "paging");
    if (p < relationshipsFor(follows)) order.push("plain");
  }
  for (let p = 0; p < pagesFor(followers); p++) order.push(p === 0 ? "page" : "paging");
  for (let k = 0; k < OTHER_PARTS; k++) order.push("plain");
  return order;
}

export interface Throttle {
  limit: number;
  windowMs: number;
  /** Requests already counted in the window that holds t0 (the sign-in's, same token). */
  usedAtStart: number;
  /** Whether a request of this kind counts against it. */
  applies: (kind: "page" | "paging" | "plain") => boolean;
}

export interface TokenBound {
  /** The bound, ms from t0. */
  ms: number;
  /** Budget left in t0's window. */
  b1: number;
  /** Window boundaries that must pass before the last request (0: the limit doesn't bind). */
  k: number;
  /** ms from t0 to the last of those boundaries (B_k − t0). */
  toLastBoundaryMs: number;
  /** Requests that must be counted in the last window. */
  m: number;
  /** R × L */
  sequentialMs: number;
}

/**
 * The closed form for one limit (the per-token one) and sequential requests:
 *   max(R·L, (B_k − t0) + (m − 1)·L)
 * b1 = limit − usedAtStart requests can be counted before B_1, the first boundary after t0;
 * k = ⌈(R − b1)/limit⌉ boundaries must pass; B_k = B_1 + (k − 1)·W; m = R − b1 − (k − 1)·limit
 * requests are counted in the last window. The stand-in counts a request when it answers
 * (after the latency), so the first of those m can end at B_k at the earliest, and the other
 * m − 1 follow it, L each.
 */
export function tokenBound(
  t0: number,
  requests: number,
  latencyMs: number,
  throttle: Throttle,
): TokenBound {
  const { limit, windowMs } = throttle;
  const b1 = Math.max(0, limit - throttle.usedAtStart);
  const sequentialMs = requests * latencyMs;
  if (requests <= b1)
    return { ms: sequentialMs, b1, k: 0, toLastBoundaryMs: 0, m: 0, sequentialMs };
  const k = Math.ceil((requests - b1) / limit);
  const firstBoundary = (Math.floor(t0 / windowMs) + 1) * windowMs;
  const toLastBoundaryMs = firstBoundary + (k - 1) * windowMs - t0;
  const m = requests - b1 - (k - 1) * limit;
  const ms = Math.max(sequentialMs, toLastBoundaryMs + (m - 1) * latencyMs);
  return { ms, b1, k, toLastBoundaryMs, m, sequentialMs };
}

/**
 * The same question answered exactly, for every limit at once: requests in the job's order,
 * one after another, each sent as early as the limits allow (as early as possible is optimal
 * for a fixed order). A request is counted when it is answered, L after it is sent; when that
 * would exceed a limit, it is sent so as to be answered at that window's end. This also
 * covers a first window too short to use its whole budget, which the closed form ignores.
 */
export function sequentialOptimum(
  t0: number,
  order: readonly ("page" | "paging" | "plain")[],
  latencyMs: number,
  throttles: readonly Throttle[],
): number {
  const used = throttles.map(
    (t) => new Map<number, number>([[Math.floor(t0 / t.windowMs), t.usedAtStart]]),
  );
  let t = t0;
  for (const kind of order) {
    for (;;) {
      const counted = t + latencyMs;
      const full = throttles.findIndex(
        (th, i) =>
          th.applies(kind) && (used[i]!.get(Math.floor(counted / th.windowMs)) ?? 0) >= th.limit,
      );
      if (full < 0) break;
      const w = throttles[full]!.windowMs;
      t = (Math.floor(counted / w) + 1) * w - latencyMs;
    }
    t += latencyMs;
    throttles.forEach((th, i) => {
      if (!th.applies(kind)) return;
      const w = Math.floor(t / th.windowMs);
      used[i]!.set(w, (used[i]!.get(w) ?? 0) + 1);
    });
  }
  return t - t0;
}
