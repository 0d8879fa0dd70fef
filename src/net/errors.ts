/**
 * One error class per kind of failure, translated once where the HTTP layer meets
 * the network, with `cause` chained. Each names the host, and the request it was
 * about: `method` and `path` (the URL's path only: a query may carry an OAuth code).
 * Messages name the host and what happened, never a token or a full URL; Http
 * takes the request's secrets out of everything it throws (see `redact` in http.ts).
 */

/** Which request an error is about: the method, and the path without its query. */
export interface Where {
  method?: string;
  path?: string;
}

export interface RemoteErrorOptions extends Where {
  cause?: unknown;
}

export class RemoteError extends Error {
  readonly method: string | undefined;
  readonly path: string | undefined;

  constructor(
    message: string,
    readonly host: string,
    options: RemoteErrorOptions = {},
  ) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.method = options.method;
    this.path = options.path;
  }
}

/** The address is private, loopback or link-local, or the scheme is plain http. */
export class ForbiddenAddressError extends RemoteError {}

/** DNS failed, the connection was refused or reset, TLS broke. */
export class UnreachableError extends RemoteError {}

export class TimeoutError extends RemoteError {}

/** The server's limit was hit and did not clear within our retries. */
export class RateLimitedError extends RemoteError {
  constructor(
    message: string,
    host: string,
    readonly resetAt: Date,
    options?: RemoteErrorOptions,
  ) {
    super(message, host, options);
  }
}

/** A 4xx answer: the server understood and said no. `detail` is its own error text. */
export class RejectedError extends RemoteError {
  constructor(
    message: string,
    host: string,
    readonly status: number,
    readonly detail: string,
    options?: RemoteErrorOptions,
  ) {
    super(message, host, options);
  }
}

/** 5xx after retries, or an answer that isn't what the API promises (HTML, wrong shape). */
export class BadResponseError extends RemoteError {
  constructor(
    message: string,
    host: string,
    readonly status?: number,
    options?: RemoteErrorOptions,
  ) {
    super(message, host, options);
  }
}

/** The answer was larger than that request can legitimately be; reading stopped at the cap. */
export class TooLargeError extends BadResponseError {}

/** The server redirected a request that must not follow it (it carries a secret or a body). */
export class RedirectRefusedError extends BadResponseError {}
