/**
 * One error class per kind of failure, translated once where the HTTP layer meets
 * the network, with `cause` chained. Messages name the host and what happened,
 * never a token or a full URL with a query (it may carry a code).
 */
export class RemoteError extends Error {
  constructor(
    message: string,
    readonly host: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
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
  ) {
    super(message, host);
  }
}

/** A 4xx answer: the server understood and said no. `detail` is its own error text. */
export class RejectedError extends RemoteError {
  constructor(
    message: string,
    host: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(message, host);
  }
}

/** 5xx after retries, or an answer that isn't what the API promises (HTML, wrong shape). */
export class BadResponseError extends RemoteError {
  constructor(
    message: string,
    host: string,
    readonly status?: number,
  ) {
    super(message, host);
  }
}
