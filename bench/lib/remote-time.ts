/**
 * How long a turn spent waiting on other servers. Turns of different users
 * interleave on one event loop, so a global stopwatch can't tell whose wait it
 * was; an AsyncLocalStorage carries each turn's own accumulator into the World
 * calls it makes, and those add their awaited time to it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { performance } from "node:perf_hooks";
import type { World } from "../../src/clients/world.js";
import type { AnyJobHandler } from "../../src/jobs/queue.js";

interface Accumulator {
  remoteMs: number;
}

const current = new AsyncLocalStorage<Accumulator>();

/** Runs one turn; returns its result with its wall time and the part spent in remote calls. */
export async function timedTurn<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; wallMs: number; remoteMs: number }> {
  const acc: Accumulator = { remoteMs: 0 };
  const start = performance.now();
  const result = await current.run(acc, fn);
  return { result, wallMs: performance.now() - start, remoteMs: acc.remoteMs };
}

/** Adds the time from `start` until `pending` settles to the current turn, if any. */
async function remote<T>(start: number, pending: Promise<T>): Promise<T> {
  const acc = current.getStore();
  try {
    return await pending;
  } finally {
    if (acc) acc.remoteMs += performance.now() - start;
  }
}

/**
 * A network client (Mastodon, OAuth) whose every call that returns a promise is timed
 * against the current turn: in these clients, whatever is awaited is a request.
 * Calls that return at once (a URL) pass through untouched.
 */
export function timed<T extends object>(client: T): T {
  return new Proxy(client, {
    get(obj, prop) {
      const value: unknown = Reflect.get(obj, prop, obj);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const start = performance.now();
        const out: unknown = value.apply(obj, args);
        return out instanceof Promise ? remote(start, out) : out;
      };
    },
  });
}

/**
 * The World with its server calls timed. signIn is left as it is: it also reads and
 * writes the store, which is the engine's own time; its requests are timed where
 * they are made, by giving SignIn a timed MastodonOAuth.
 */
export function timedWorld(world: World): World {
  return {
    ...world,
    probeMastodon: (origin) => remote(performance.now(), world.probeMastodon(origin)),
    mastodon: (origin, token) => timed(world.mastodon(origin, token)),
  };
}

/**
 * A job started by a turn inherits the turn's async context and would keep adding
 * its requests to that turn, even after the turn has answered. Run jobs outside it.
 */
export function outsideTurns<H extends AnyJobHandler>(handler: H): H {
  return { ...handler, run: (job, control) => current.exit(() => handler.run(job, control)) };
}
