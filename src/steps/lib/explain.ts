/**
 * One sentence for a user about what went wrong out there. Never the raw error:
 * it might carry a URL with a code, and it is not written for people.
 */
import { elide, REMOTE_TEXT_MAX } from "../../chat/text.js";
import {
  BadResponseError,
  ForbiddenAddressError,
  RateLimitedError,
  RedirectRefusedError,
  RejectedError,
  TimeoutError,
  TooLargeError,
  UnreachableError,
} from "../../net/errors.js";

export function explainRemote(err: unknown, remoteHost: string): string {
  const host = elide(remoteHost);
  if (err instanceof ForbiddenAddressError) {
    return `${host} is on a private network or not on https://, and I can only reach public servers.`;
  }
  if (err instanceof TimeoutError) return `${host} didn't answer in time. Try again in a minute.`;
  if (err instanceof UnreachableError) {
    return /not found/.test(err.message)
      ? `I couldn't find a server called ${host}. Check the spelling?`
      : `I couldn't reach ${host}. Check the spelling, or try again in a minute.`;
  }
  if (err instanceof RateLimitedError) {
    const at = err.resetAt.toISOString().slice(11, 16);
    return `${host} says I'm asking too often. I can try again at ${at} UTC.`;
  }
  if (err instanceof TooLargeError) {
    return `${host} sent far more than that answer can be, so I stopped reading. Try again later; if it keeps happening, its admins may want to know.`;
  }
  if (err instanceof RedirectRefusedError) {
    return `${host} tried to send that request on to another address, which I don't follow when it carries a sign-in or your data.`;
  }
  if (err instanceof BadResponseError) {
    return err.status && err.status >= 500
      ? `${host} is having trouble right now (HTTP ${err.status}). Try again in a few minutes.`
      : `${host} doesn't answer like a Mastodon server.`;
  }
  if (err instanceof RejectedError)
    return `${host} said no: ${err.detail ? elide(err.detail, REMOTE_TEXT_MAX) : `HTTP ${err.status}`}.`;
  return `Something went wrong talking to ${host}. Try again in a minute.`;
}
