/**
 * Rack::Attack as Mastodon configures it (config/initializers/rack_attack.rb) plus the
 * header logic of Api::RateLimitHeaders. Only the request throttles that matter to a
 * read-only client are modelled:
 *
 *   throttle_authenticated_api       per user,  1,500 / 5 min, /api only
 *   throttle_per_token_api           per token,   300 / 5 min, /api only
 *   throttle_unauthenticated_api     per IP,      300 / 5 min, /api only, no token
 *   throttle_authenticated_paging    per user,    300 / 15 min, any path with page/max_id/since_id/min_id
 *   throttle_unauthenticated_paging  per IP,      300 / 15 min, same, no token
 *   throttle_oauth_application_registrations/ip   5 / 10 min, POST /api/v1/apps
 *
 * Semantics copied from Rack::Attack:
 * - fixed windows: the counter key is `floor(now / period)`, so every client's window
 *   resets on the same boundary;
 * - throttles are evaluated in the order above and each matching one is incremented
 *   (also for requests that end up throttled) until the first one whose count exceeds its
 *   limit; later throttles are not touched (`throttles.any?` short-circuits);
 * - a request is throttled when count > limit;
 * - a revoked token still identifies its user and token (Doorkeeper finds it), an unknown
 *   token string does not, so that request counts as unauthenticated.
 */

export interface ThrottleWindow {
  limit: number;
  windowMs: number;
}

export interface RateLimitConfig extends ThrottleWindow {
  /** throttle_authenticated_api. Default: 5 × limit over windowMs (1,500 / 5 min). */
  perUser?: ThrottleWindow;
  /** throttle_*_paging. Default: 300 / 15 min. */
  paging?: ThrottleWindow;
  /** throttle_oauth_application_registrations/ip. Default: 5 / 10 min. */
  appRegistrations?: ThrottleWindow;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { limit: 300, windowMs: 5 * 60_000 };
const DEFAULT_PAGING: ThrottleWindow = { limit: 300, windowMs: 15 * 60_000 };
const DEFAULT_APP_REGISTRATIONS: ThrottleWindow = { limit: 5, windowMs: 10 * 60_000 };

export interface ThrottleDatum {
  name: string;
  limit: number;
  count: number;
  periodMs: number;
}

export interface ThrottleRequest {
  api: boolean;
  paging: boolean;
  userId: string | null;
  tokenId: string | null;
  ip: string;
  /** POST /api/v1/apps */
  appRegistration?: boolean;
}

export interface ThrottleOutcome {
  /** Every throttle that matched this request, in evaluation order (rack.attack.throttle_data). */
  data: ThrottleDatum[];
  /** The throttle that refused the request (rack.attack.match_data), or null. */
  matched: ThrottleDatum | null;
}

interface Rule {
  name: string;
  window: ThrottleWindow;
  discriminator: (r: ThrottleRequest) => string | null;
}

export class RackAttack {
  private rules: Rule[] = [];
  private readonly counters = new Map<string, { window: number; count: number }>();

  constructor(config: RateLimitConfig | null) {
    this.configure(config);
  }

  /** null = no throttling at all (what Mastodon does for its localhost safelist: no headers either). */
  configure(config: RateLimitConfig | null): void {
    this.counters.clear();
    if (config === null) {
      this.rules = [];
      return;
    }
    const api: ThrottleWindow = { limit: config.limit, windowMs: config.windowMs };
    const perUser = config.perUser ?? { limit: config.limit * 5, windowMs: config.windowMs };
    const paging = config.paging ?? DEFAULT_PAGING;
    this.rules = [
      {
        name: "throttle_authenticated_api",
        window: perUser,
        discriminator: (r) => (r.api && r.userId !== null ? r.userId : null),
      },
      {
        name: "throttle_per_token_api",
        window: api,
        discriminator: (r) => (r.api && r.tokenId !== null ? r.tokenId : null),
      },
      {
        name: "throttle_unauthenticated_api",
        window: api,
        discriminator: (r) => (r.api && r.userId === null ? r.ip : null),
      },
      {
        name: "throttle_authenticated_paging",
        window: paging,
        discriminator: (r) => (r.paging && r.userId !== null ? r.userId : null),
      },
      {
        name: "throttle_unauthenticated_paging",
        window: paging,
        discriminator: (r) => (r.paging && r.userId === null ? r.ip : null),
      },
      {
        name: "throttle_oauth_application_registrations/ip",
        window: config.appRegistrations ?? DEFAULT_APP_REGISTRATIONS,
        discriminator: (r) => (r.appRegistration ? r.ip : null),
      },
    ];
  }

  get enabled(): boolean {
    return this.rules.length > 0;
  }

  reset(): void {
    this.counters.clear();
  }

  /** Returns null when throttling is off (the request carries no throttle data). */
  check(request: ThrottleRequest, nowMs: number): ThrottleOutcome | null {
    if (!this.enabled) return null;
    const data: ThrottleDatum[] = [];
    for (const rule of this.rules) {
      const discriminator = rule.discriminator(request);
      if (discriminator === null) continue;
      const { limit, windowMs } = rule.window;
      const window = Math.floor(nowMs / windowMs);
      const key = `${rule.name}:${discriminator}`;
      let counter = this.counters.get(key);
      if (counter === undefined || counter.window !== window) {
        counter = { window, count: 0 };
        this.counters.set(key, counter);
      }
      counter.count += 1;
      const datum = { name: rule.name, limit, count: counter.count, periodMs: windowMs };
      data.push(datum);
      if (counter.count > limit) return { data, matched: datum };
    }
    return { data, matched: null };
  }
}

/**
 * `(now + (period - now.to_i % period)).iso8601(6)`: the next window boundary, but carrying
 * the sub-second part of the request time, exactly as Rails computes it. For windows that
 * aren't whole seconds (test-only) the exact boundary is used.
 */
export function resetAt(nowMs: number, periodMs: number): number {
  if (periodMs % 1000 === 0) {
    const wholeSeconds = Math.floor(nowMs / 1000) * 1000;
    return nowMs + (periodMs - (wholeSeconds % periodMs));
  }
  return (Math.floor(nowMs / periodMs) + 1) * periodMs;
}

/** Ruby's Time#iso8601(6) for a UTC time: 2026-11-27T10:05:00.123000Z */
export function iso8601Micro(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Headers an Api:: controller adds to every response it renders (before_action). */
export function successHeaders(
  outcome: ThrottleOutcome | null,
  nowMs: number,
): Record<string, string> {
  if (outcome === null || outcome.data.length === 0) return {};
  // min_by { limit - count }: the first of equally tight throttles wins.
  let tightest = outcome.data[0]!;
  for (const d of outcome.data) {
    if (d.limit - d.count < tightest.limit - tightest.count) tightest = d;
  }
  return {
    "X-RateLimit-Limit": String(tightest.limit),
    "X-RateLimit-Remaining": String(tightest.limit - tightest.count),
    "X-RateLimit-Reset": iso8601Micro(resetAt(nowMs, tightest.periodMs)),
  };
}

/** Rack::Attack.throttled_responder */
export function throttledHeaders(matched: ThrottleDatum, nowMs: number): Record<string, string> {
  return {
    "Content-Type": "application/json",
    "X-RateLimit-Limit": String(matched.limit),
    "X-RateLimit-Remaining": "0",
    "X-RateLimit-Reset": iso8601Micro(resetAt(nowMs, matched.periodMs)),
  };
}
