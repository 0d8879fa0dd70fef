/**
 * The two ways a store call fails that callers act on: the store could not be
 * reached in time (StoreUnavailableError: try again later, nothing was changed
 * by this call's caller on purpose), and a write made under a lease that was
 * lost meanwhile (FencedOutError: someone else has the work now; stop).
 */

/** The backend did not answer in time, or the connection to it is down. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  constructor(
    readonly kind: string,
    what: string,
    options?: ErrorOptions,
  ) {
    super(`store (${kind}) unavailable: ${what}`, options);
  }
}

/** A fenced write refused: the lease it was made under is no longer the newest on its lock. */
export class FencedOutError extends Error {
  override readonly name = "FencedOutError";
  constructor(
    readonly lock: string,
    readonly generation: number,
  ) {
    super(`lease ${generation} on "${lock}" was lost to a newer holder; the write was refused`);
  }
}

/** Node's codes for a connection that could not be made or was cut. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** node-redis's errors for a connection that is down, reconnecting or silent. */
const REDIS_ERRORS = new Set([
  "ClientOfflineError",
  "SocketClosedUnexpectedlyError",
  "ConnectionTimeoutError",
  "SocketTimeoutError",
  "SocketTimeoutDuringMaintenanceError",
  "TimeoutError",
  "CommandTimeoutDuringMaintenanceError",
  "ReconnectStrategyError",
  "DisconnectsClientError",
]);

/** Redis replies that mean "not now" (loading its data, a failover, a busy script). */
const REDIS_NOT_NOW = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * PostgreSQL's SQLSTATEs for the same: class 08 (connection exception), the
 * server shutting down or starting (57P01–57P03), a statement or lock timeout
 * (57014, 55P03) and too many connections (53300).
 */
const PG_NOT_NOW = new Set(["57P01", "57P02", "57P03", "57014", "55P03", "53300"]);
/** The pg driver's own messages for a lost connection or a timeout (they carry no code). */
const PG_DRIVER =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error)/;

/** better-sqlite3: another process holds the file's lock (past the busy timeout, or at once). */
export function isSqliteBusy(error: unknown): boolean {
  const code = error instanceof Error && "code" in error ? String(error.code) : "";
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED");
}

/** Does this error from a driver mean "the store can't be reached right now"? */
export function isUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 3) return false;
  if (error instanceof StoreUnavailableError) return true;
  const code = "code" in error && typeof error.code === "string" ? error.code : "";
  if (NETWORK_CODES.has(code)) return true;
  if (REDIS_ERRORS.has(error.constructor.name) || REDIS_ERRORS.has(error.name)) return true;
  if (error.constructor.name === "SimpleError" && REDIS_NOT_NOW.test(error.message)) return true;
  if (code.startsWith("08") || PG_NOT_NOW.has(code) || PG_DRIVER.test(error.message)) return true;
  if (isSqliteBusy(error)) return true;
  if (error instanceof AggregateError && error.errors.some((e) => isUnavailable(e, depth + 1)))
    return true;
  return isUnavailable(error.cause, depth + 1);
}

/**
 * Runs one store call within `ms`: past it, or when the driver reports the
 * connection down, the call fails with StoreUnavailableError (the driver's
 * error as its cause). Other errors (a refused fence, a bug) pass unchanged.
 */
export async function bounded<T>(kind: string, ms: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StoreUnavailableError(kind, `no answer within ${ms} ms`)),
      ms,
    );
  });
  try {
    // An async wrapper, so a call that throws at once is handled like one that rejects.
    return await Promise.race([(async () => call())(), late]);
  } catch (error) {
    if (error instanceof StoreUnavailableError || !isUnavailable(error)) throw error;
    const what = error instanceof Error ? `${error.name}: ${error.message}` : "connection lost";
    throw new StoreUnavailableError(kind, what, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
