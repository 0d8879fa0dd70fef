/**
 * Runs work while holding a lease: waits for it, keeps it alive while the work
 * runs (a heartbeat at a third of the TTL), tells the work through an AbortSignal
 * if it is lost anyway, and always gives it back. The work gets the lease's fence
 * too: a write that must not land once the lease is lost is made with setFenced().
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Fence, Lease, Locks } from "./store.js";

export interface LockOptions {
  /** Lease length; the heartbeat renews it every ttlMs / 3. Default 30 s. */
  ttlMs?: number;
  /** How long to wait for a lease someone else holds. Default 60 s. */
  waitMs?: number;
  /** First pause between attempts; grows to 4× with jitter. Default 50 ms. */
  pollMs?: number;
  /** Aborted: stop waiting (rejects with the signal's reason); the work never starts. */
  signal?: AbortSignal;
}

export class LockTimeoutError extends Error {
  override readonly name = "LockTimeoutError";
  constructor(
    readonly lock: string,
    readonly waitedMs: number,
  ) {
    super(`lock "${lock}" still held by someone else after ${waitedMs} ms`);
  }
}

/** The reason on the signal when a lease was lost while the work ran. */
export class LockLostError extends Error {
  override readonly name = "LockLostError";
  constructor(readonly lock: string) {
    super(`lock "${lock}" was lost while the work ran`);
  }
}

export async function withLock<T>(
  locks: Locks,
  name: string,
  fn: (signal: AbortSignal, fence: Fence) => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const { ttlMs = 30_000, waitMs = 60_000, pollMs = 50, signal } = opts;
  const { lease, sent } = await acquireWithin(locks, name, ttlMs, waitMs, pollMs, signal);
  const lost = new AbortController();
  const stop = heartbeat(locks, name, lease.token, ttlMs, sent, () =>
    lost.abort(new LockLostError(name)),
  );
  try {
    return await fn(lost.signal, { lock: lease.lock, generation: lease.generation });
  } finally {
    stop();
    // A release that fails (connection gone) costs nothing: the lease expires by
    // itself, and throwing here would hide the work's own result or error.
    await locks.release(name, lease.token).catch(() => undefined);
  }
}

async function acquireWithin(
  locks: Locks,
  name: string,
  ttlMs: number,
  waitMs: number,
  pollMs: number,
  signal?: AbortSignal,
): Promise<{ lease: Lease; sent: number }> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    const sent = Date.now();
    const lease = await locks.acquire(name, ttlMs);
    if (lease !== null && signal?.aborted) {
      // Taken just as the waiter gave up: handed back at once for the next.
      await locks.release(name, lease.token).catch(() => undefined);
      signal.throwIfAborted();
    }
    if (lease !== null) return { lease, sent };
    const left = deadline - Date.now();
    if (left <= 0) throw new LockTimeoutError(name, waitMs);
    // Jitter keeps waiters that started together from retrying in lockstep.
    const pause = Math.min(pollMs * 1.5 ** attempt, pollMs * 4) * (0.5 + Math.random());
    await sleep(Math.min(pause, left), undefined, signal ? { signal } : undefined).catch(
      (err: unknown) => {
        // Aborted while pausing: the loop's check says why.
        if (!signal?.aborted) throw err;
      },
    );
  }
}

/** Renews the lease until stopped; calls onLost once if it cannot be kept. */
function heartbeat(
  locks: Locks,
  name: string,
  token: string,
  ttlMs: number,
  heldSince: number,
  onLost: () => void,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  // Sent time of the last renewal that worked: the lease surely lasts ttlMs past it.
  let safeFrom = heldSince;
  const beat = async () => {
    const sent = Date.now();
    try {
      if (await locks.extend(name, token, ttlMs)) safeFrom = sent;
      else if (!stopped) return onLost();
    } catch {
      // The backend is unreachable; keep trying until the lease must have ended.
      if (!stopped && Date.now() - safeFrom >= ttlMs) return onLost();
    }
    if (!stopped) schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void beat(), ttlMs / 3);
    timer.unref();
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
