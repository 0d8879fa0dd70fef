/**
 * The micro.blog stand-in's public types, apart from its entry point so that the
 * modules it is built from can use them without importing the entry back.
 */

export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** A reply the stand-in sends instead of the normal answer. */
export interface ErrorReply {
  status: number;
  body: string;
  /** Default: application/json when the body looks like JSON, else text/plain. */
  contentType?: string;
}

export interface MicroblogSandboxOptions {
  /** 0 / omitted: any free port. */
  port?: number;
  /** Clock for log times, rate-limit windows and token expiry (ms since epoch). Default Date.now. */
  now?: () => number;
  /** Default 300 per 60 s per client IP. null: no limit. */
  rateLimit?: RateLimit | null;
  /** The Fediverse domain of the accounts (acct:user@DOMAIN, https://DOMAIN/activitypub/user). Default: the sandbox's host, with its http:// origin. */
  domain?: string;
  /** What an unknown user gets. Default 404 {"error":"User not found."}. */
  notFound?: ErrorReply;
  /** Verifications of one token before it is switched to an expiring token. Default 5. */
  expireAfterVerifies?: number;
  /**
   * The Bearer API's status for a missing, unknown, expired or deleted token. Default 401;
   * 403 makes it look like the rate limit ("an HTTP error such as 403").
   */
  badTokenStatus?: 401 | 403;
  /**
   * WebFinger still answers a user's former Fediverse usernames (each with its own subject,
   * pointing at the current actor). Default false: changing the username "deletes" the old
   * profile from Mastodon servers (apis.md B4).
   */
  formerHandlesAnswer?: boolean;
}

export interface UserOptions {
  name?: string;
  /** The blog's own domain (default_site), instead of username.micro.blog. */
  site?: string;
  /** The Fediverse username, name@DOMAIN or name@site (default username@DOMAIN). */
  fediverse?: string;
}

export interface RemoteOptions {
  /** Whether micro.blog can resolve (and so follow) this Fediverse account. */
  exists: boolean;
  name?: string;
  /** The answer when it can't (default: the sandbox's not-found reply). */
  errorBody?: ErrorReply;
  /** micro.blog knows the account but refuses to follow it, with this answer (e.g. a 403). */
  refuseFollow?: ErrorReply;
}

export type Fault = (
  | { status: number; body?: string; contentType?: string }
  /** Accept the request and never answer (until the client gives up or close()). */
  | { hang: true }
  /** Handled this late, even if the client gave up meanwhile (a busy server's backlog). */
  | { queuedMs: number }
) & {
  /** Only requests whose path starts with this consume the fault. */
  path?: string;
  /** Only requests with this method. */
  method?: string;
};

export interface RequestLogEntry {
  method: string;
  /** Path and query as received. */
  path: string;
  /** 0 when no response was sent (hang, client gave up). */
  status: number;
  /** Arrival on the sandbox clock (ms since epoch). */
  time: number;
  durationMs: number;
  ip: string;
  /** The micro.blog user of a valid Bearer token, else null. */
  user: string | null;
  /** Refused by the rate limit: when its window ends (sandbox clock). */
  resetAt?: number;
}
