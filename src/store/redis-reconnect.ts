/**
 * How our Redis connections (the store's, the job queue's) reconnect: for ever once they
 * have been connected (a restart, a blip), backing off from 100 ms to 2 s; before that, not
 * at all — the server is simply not there, and whoever opens it should say so rather than hang.
 */

/** How long connecting may take before the server counts as not there. */
const REDIS_CONNECT_TIMEOUT_MS = 5_000;

/** node-redis's `socket` options for one connection; call `connected()` once it is. */
export function reconnectOnceConnected() {
  let connected = false;
  return {
    socket: {
      connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries: number, cause: Error) =>
        connected ? Math.min(100 * 2 ** retries, 2_000) : cause,
    },
    connected() {
      connected = true;
    },
  };
}
