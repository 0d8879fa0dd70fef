/** Small measuring tools shared by the benches: percentiles, a worker pool, settled memory. */
import { setTimeout as sleep } from "node:timers/promises";

export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  // Nearest rank: p99 of 4,000 samples is the 3,960th, an actual observation.
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Per-message times, allocated up front so that they don't count as memory per user. */
export class Samples {
  readonly #ms: Float64Array;
  #count = 0;
  /** Time spent awaiting remote calls, left out of the samples. */
  remoteMs = 0;

  constructor(size: number) {
    this.#ms = new Float64Array(size);
  }

  add(ms: number, remoteMs = 0): void {
    this.#ms[this.#count++] = ms;
    this.remoteMs += remoteMs;
  }

  get count(): number {
    return this.#count;
  }

  percentile(p: number): number {
    return percentile(this.#ms.subarray(0, this.#count), p);
  }
}

/** What the bench drives: a bot with its users, whatever it is built on. */
export interface Side {
  /** User k's messages in order, each timed into `samples` if given; true if all went through. */
  journey(k: number, samples?: Samples): Promise<boolean>;
  /** Resolves when background work has ended and nothing transient is held. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Runs work(0…count-1) with at most `concurrency` in flight: that many users typing at once. */
export async function pool(
  count: number,
  concurrency: number,
  work: (index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export interface Memory {
  heapUsed: number;
  rss: number;
}

/**
 * Heap and RSS once garbage is gone. Objects behind WeakRefs and FinalizationRegistry
 * (AbortSignal.timeout and .any, undici's fetch) are let go only a task or two after
 * a collection, so collect with short pauses until the heap stops shrinking. Without
 * --expose-gc the figures include garbage (the report says so).
 */
export async function settledMemory(): Promise<Memory> {
  let previous = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 20; round++) {
    globalThis.gc?.();
    await sleep(20);
    const heap = process.memoryUsage().heapUsed;
    if (round >= 2 && heap > previous - 64 * 1024) break;
    previous = heap;
  }
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

export const gcExposed = (): boolean => typeof globalThis.gc === "function";
