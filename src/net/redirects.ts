/**
 * Redirects, judged hop by hop (Http asks undici for none: undici would re-send a body to
 * wherever a 307 points). A request that carries a body or a credential stays on its origin;
 * one marked `redirect: "error"` follows none; the rest follow fetch's rules, a few hops.
 */
import type { Response } from "undici";
import { RedirectRefusedError, type Where } from "./errors.js";

/** Redirects followed in one call; fetch's own limit is 20, and no API we call needs more than one. */
export const MAX_REDIRECTS = 5;

export const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** One request on its way: where it goes now, and what it carries there. */
export interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/**
 * Where a redirect sends the request next, or the error that says why it goes nowhere. A
 * request with a body or a credential stays on its origin: a 307 from /oauth/token to another
 * host would otherwise hand that host the client secret, the code and the verifier.
 */
export function redirected(
  hop: Hop,
  res: Response,
  call: { redirect?: "error"; host: string; where: Where; hops: number },
): Hop {
  const { host, where } = call;
  const fail = (why: string) => new RedirectRefusedError(`${host} ${why}`, host, res.status, where);
  if (call.redirect === "error") {
    throw fail(`answered with a redirect (HTTP ${res.status}), which I don't follow here`);
  }
  const location = res.headers.get("location");
  let to: URL;
  try {
    to = new URL(location ?? "", hop.url);
  } catch {
    throw fail(`answered with a redirect to nowhere (HTTP ${res.status})`);
  }
  if (!location || (to.protocol !== "https:" && to.protocol !== "http:")) {
    throw fail(`answered with a redirect to nowhere (HTTP ${res.status})`);
  }
  const carries = hop.body !== undefined || "authorization" in hop.headers;
  if (carries && to.origin !== hop.url.origin) {
    throw fail(`sent this request on to ${to.host}, and I only send it to ${hop.url.host}`);
  }
  if (call.hops > MAX_REDIRECTS) throw fail("redirected too many times");
  // Fetch's rule (fetch.spec.whatwg.org, HTTP-redirect fetch): a 303, and a 301 or 302 after a
  // POST, turn into a GET without the body; a 307 or 308 repeats the request as it was.
  const toGet =
    (res.status === 303 && hop.method !== "GET") ||
    ((res.status === 301 || res.status === 302) && hop.method === "POST");
  if (!toGet) return { ...hop, url: to };
  const { "content-type": _dropped, ...headers } = hop.headers;
  return { url: to, method: "GET", headers, body: undefined };
}
