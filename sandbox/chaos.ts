/**
 * Random faults at a chosen rate, seeded so that a run can be repeated: what the real network
 * and real servers do now and then, all at once. Off unless a test or the reliability harness
 * turns it on (the real default is a server that mostly answers). Each kind is something real
 * servers and proxies send:
 *
 *   status5xx      a 500, 502, 503 or 504 in the stand-in's own error shape (nginx in front of
 *                  Puma/Rails answers 502/504 while the app restarts or is slow)
 *   timeout        the request is accepted and never answered; after `hangMs` the socket closes
 *   reset          the socket is destroyed before any answer (ECONNRESET)
 *   slow           the real answer, `slowMs` late
 *   malformedJson  the real status and headers with a body cut mid-way and garbage after it:
 *                  never JSON (a proxy's or a crashed worker's half answer)
 *   brokenLink     the real answer with a Link header that names no usable URL
 *   truncated      the real answer's headers and Content-Length, half the body, then the
 *                  socket closes (undici: "terminated" / UND_ERR_SOCKET)
 *
 * The answer-changing kinds (malformedJson, brokenLink, truncated) happen after the stand-in
 * did the work, as with a real server: a follow whose answer was lost is still a follow.
 */
import { z } from "zod";

export const CHAOS_KINDS = [
  "status5xx",
  "timeout",
  "reset",
  "slow",
  "malformedJson",
  "brokenLink",
  "truncated",
] as const;
export type ChaosKind = (typeof CHAOS_KINDS)[number];

/** Kinds decided before the stand-in answers (it does nothing); the rest change its answer. */
export const BEFORE_ANSWER: ReadonlySet<ChaosKind> = new Set(["status5xx", "timeout", "reset"]);

export const ChaosOptionsSchema = z.object({
  /** The share of requests that get a fault, 0 to 1. */
  rate: z.number().min(0).max(1),
  seed: z.number().int(),
  /** Default: every kind, equally likely. */
  kinds: z.array(z.enum(CHAOS_KINDS)).min(1).optional(),
  /** A timeout's wait before the socket closes. Default 2000. */
  hangMs: z.number().int().min(0).optional(),
  /** A slow answer's delay. Default 300. */
  slowMs: z.number().int().min(0).optional(),
  /** Only requests whose path starts with one of these (default: all but /_sandbox). */
  paths: z.array(z.string().startsWith("/")).optional(),
});
export type ChaosOptions = z.infer<typeof ChaosOptionsSchema>;

/** mulberry32: a small seeded generator, enough for picking faults reproducibly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES = [500, 502, 503, 504] as const;

/** One stand-in's chaos: which request gets which fault, and how many of each it gave. */
export class Chaos {
  readonly injected: Record<ChaosKind, number> = Object.fromEntries(
    CHAOS_KINDS.map((k) => [k, 0]),
  ) as Record<ChaosKind, number>;
  private readonly random: () => number;
  private readonly kinds: readonly ChaosKind[];
  readonly options: ChaosOptions;

  constructor(options: ChaosOptions) {
    this.options = ChaosOptionsSchema.parse(options);
    this.random = seeded(this.options.seed);
    this.kinds = this.options.kinds ?? CHAOS_KINDS;
  }

  get total(): number {
    return Object.values(this.injected).reduce((a, b) => a + b, 0);
  }

  /** The fault this request gets, or null (counted when given). */
  pick(path: string): ChaosKind | null {
    const { paths, rate } = this.options;
    if (paths && !paths.some((p) => path.startsWith(p))) return null;
    if (this.random() >= rate) return null;
    const kind = this.kinds[Math.floor(this.random() * this.kinds.length)] ?? "status5xx";
    this.injected[kind] += 1;
    return kind;
  }

  /** A 5xx status for status5xx. */
  status(): number {
    return STATUSES[Math.floor(this.random() * STATUSES.length)] ?? 500;
  }

  get hangMs(): number {
    return this.options.hangMs ?? 2000;
  }

  get slowMs(): number {
    return this.options.slowMs ?? 300;
  }
}
