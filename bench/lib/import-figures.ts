/**
 * What one round of imports did, read from the micro.blog stand-in's request log: the rate
 * it reached against the limit, follows answered twice, requests that went out while a
 * refusal's window was still running, and where the time went.
 */
import type { RequestLogEntry } from "../../sandbox/microblog.js";
import type { ImportRun } from "./import-run.js";

export interface ImportFigures {
  wallMs: number;
  requests: number;
  refused: number;
  /** POST /users/follow answered with a 2xx. */
  followsAnswered: number;
  /** Every request answered with something other than a 403 (follows and following lists). */
  answered: number;
  /** Follows answered per second ÷ R. */
  followRatio: number;
  /** All answered requests per second ÷ R: how much of the limit the import used. */
  answeredRatio: number;
  /** The same (user, handle) follow answered more than once: the extra answers. */
  duplicates: number;
  /** Requests that arrived after a 403 and before the end of its window. */
  afterRefusal: number;
  /** Mean time from a request's arrival to the next one's, when the first wasn't refused. */
  cycleMs: number;
  /** Summed over refusals: from the end of the refused window to the next request's arrival. */
  pastResetMs: number;
  /** Users whose every follow is on the stand-in afterwards. */
  complete: number;
  /** What users were told, and how many were told each. */
  told: Map<string, number>;
  /** When the first and the last user were told, ms after the start. */
  firstToldMs: number;
  lastToldMs: number;
}

const isFollow = (q: RequestLogEntry) => q.method === "POST" && q.path.startsWith("/users/follow?");
const ok = (q: RequestLogEntry) => q.status >= 200 && q.status < 300;

export function figuresOf(run: ImportRun, ratePerSecond: number): ImportFigures {
  const log = run.log;
  const wallMs = run.endedAt - run.startedAt;
  const perSecond = (count: number) => count / (wallMs / 1000);

  const follows = log.filter((q) => isFollow(q) && ok(q));
  const answered = log.filter((q) => q.status !== 403 && q.status !== 0).length;

  const seen = new Set<string>();
  let duplicates = 0;
  for (const q of follows) {
    const handle = new URL(q.path, "http://x").searchParams.get("username")?.toLowerCase();
    const key = `${q.user} ${handle}`;
    if (seen.has(key)) duplicates += 1;
    seen.add(key);
  }

  // The log is in arrival order. A request counts once, whichever refusals it follows.
  let blockedUntil = Number.NEGATIVE_INFINITY;
  let afterRefusal = 0;
  let pastResetMs = 0;
  let gaps = 0;
  let gapMs = 0;
  for (let i = 0; i < log.length; i++) {
    const q = log[i]!;
    if (q.time < blockedUntil) afterRefusal += 1;
    const next = log[i + 1];
    if (q.status === 403 && q.resetAt !== undefined) {
      blockedUntil = Math.max(blockedUntil, q.resetAt);
      if (next) pastResetMs += Math.max(0, next.time - q.resetAt);
    } else if (next) {
      gaps += 1;
      gapMs += next.time - q.time;
    }
  }

  const told = new Map<string, number>();
  for (const line of run.told.values()) told.set(line, (told.get(line) ?? 0) + 1);
  const at = [...run.toldAt.values()].map((t) => t - run.startedAt);
  const complete = run.people.filter((p) => {
    const have = new Set(run.followingAfter.get(p.username)?.map((h) => h.toLowerCase()));
    return p.handles.every((h) => have.has(h.toLowerCase()));
  }).length;

  return {
    wallMs,
    requests: log.length,
    refused: log.filter((q) => q.status === 403).length,
    followsAnswered: follows.length,
    answered,
    followRatio: perSecond(follows.length) / ratePerSecond,
    answeredRatio: perSecond(answered) / ratePerSecond,
    duplicates,
    afterRefusal,
    cycleMs: gaps > 0 ? gapMs / gaps : Number.NaN,
    pastResetMs,
    complete,
    told,
    firstToldMs: at.length ? Math.min(...at) : Number.NaN,
    lastToldMs: at.length ? Math.max(...at) : Number.NaN,
  };
}
