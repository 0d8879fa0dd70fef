/**
 * The URI handling Doorkeeper's checks rely on, as Ruby does it: URI::RFC3986_Parser,
 * Doorkeeper's URIChecker and RedirectUriValidator (with Mastodon's forbid_redirect_uri and
 * force_ssl false), Mastodon's URLValidator for app websites, and Authorization::URIBuilder
 * for the redirect back to the client.
 */

import { blank } from "./mastodon-http.js";

export const OOB_URI = "urn:ietf:wg:oauth:2.0:oob";
export const OOB_URIS = [OOB_URI, "urn:ietf:wg:oauth:2.0:oob:auto"];

export class InvalidUriError extends Error {}

export interface RubyUri {
  scheme: string | null;
  userinfo: string | null;
  host: string | null;
  port: number | null;
  path: string;
  opaque: string | null;
  query: string | null;
  fragment: string | null;
}

const URI_CHARS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;

/** URI::RFC3986_Parser#parse: characters outside RFC 3986 raise InvalidURIError. */
export function parseRubyUri(value: string): RubyUri {
  if (!URI_CHARS.test(value)) throw new InvalidUriError(`bad URI(is not URI?): ${value}`);
  const m =
    /^(?:([A-Za-z][A-Za-z0-9+\-.]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(
      value,
    );
  if (!m) throw new InvalidUriError(`bad URI(is not URI?): ${value}`);
  const scheme = m[1] ?? null;
  const authority = m[2];
  let path = m[3] ?? "";
  let opaque: string | null = null;
  let userinfo: string | null = null;
  let host: string | null = null;
  let port: number | null = null;
  if (authority !== undefined) {
    let hostPort = authority;
    const at = authority.lastIndexOf("@");
    if (at !== -1) {
      userinfo = authority.slice(0, at);
      hostPort = authority.slice(at + 1);
    }
    const pm = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
    if (!pm) throw new InvalidUriError(`bad URI(is not URI?): ${value}`);
    host = pm[1] ?? "";
    if (pm[2]) port = Number(pm[2]);
  } else if (scheme !== null && !path.startsWith("/") && path !== "") {
    opaque = path;
    path = "";
  }
  const lower = scheme?.toLowerCase();
  if (port === null && lower === "http") port = 80;
  if (port === null && lower === "https") port = 443;
  return {
    scheme,
    userinfo,
    host,
    port,
    path,
    opaque,
    query: m[4] ?? null,
    fragment: m[5] ?? null,
  };
}

function isHttp(uri: RubyUri): boolean {
  const s = uri.scheme?.toLowerCase();
  return s === "http" || s === "https";
}

/** URI::Generic#== after #normalize (scheme and host downcased, empty path → "/"). */
function sameUri(a: RubyUri, b: RubyUri): boolean {
  const norm = (u: RubyUri) => [
    u.scheme?.toLowerCase() ?? null,
    u.userinfo,
    u.host?.toLowerCase() ?? null,
    u.port,
    u.path === "" && u.opaque === null ? "/" : u.path,
    u.opaque,
    u.query,
    u.fragment,
  ];
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

function isLoopback(host: string | null): boolean {
  if (!host) return false;
  const h = host.replace(/^\[|\]$/g, "");
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::1" || h === "0:0:0:0:0:0:0:1";
}

/** Doorkeeper::OAuth::Helpers::URIChecker.valid? */
function uriValid(url: string): boolean {
  if (OOB_URIS.includes(url)) return true;
  try {
    const uri = parseRubyUri(url);
    const validScheme = !blank(uri.scheme) && uri.scheme !== "localhost";
    const iffHost = !(isHttp(uri) && blank(uri.host));
    return validScheme && iffHost && uri.fragment === null && uri.opaque === null;
  } catch {
    return false;
  }
}

/** URIChecker.matches?: query params in any order; loopback ports ignored (RFC 8252 §7.3). */
function uriMatches(url: string, clientUrl: string): boolean {
  let a: RubyUri;
  let b: RubyUri;
  try {
    a = parseRubyUri(url);
    b = parseRubyUri(clientUrl);
  } catch {
    return false;
  }
  if (b.query !== null) {
    const q = a.query;
    const cq = b.query;
    const same =
      (cq === "" && (q === null || q === "")) ||
      (q !== null && cq.split("&").sort().join("&") === q.split("&").sort().join("&"));
    if (!same) return false;
    b = { ...b, query: null };
  }
  if (isLoopback(a.host) && isLoopback(b.host)) {
    a = { ...a, port: null };
    b = { ...b, port: null };
  }
  return sameUri({ ...a, query: null }, b);
}

/** URIChecker.valid_for_authorization?: valid, and matching one of the registered URIs. */
export function validForAuthorization(url: string, registered: string): boolean {
  return uriValid(url) && registered.split(/\s+/).some((r) => r !== "" && uriMatches(url, r));
}

/** Doorkeeper::RedirectUriValidator with Mastodon's forbid_redirect_uri and force_ssl false. */
export function redirectUriErrors(value: string): string[] {
  if (blank(value)) return ["can't be blank"];
  const errors: string[] = [];
  for (const val of value.split(/\s+/).filter((v) => v !== "")) {
    if (OOB_URIS.includes(val)) continue;
    let uri: RubyUri;
    try {
      uri = parseRubyUri(val);
    } catch {
      // The rescue sits outside the loop: one error, and the rest isn't checked.
      errors.push("must be a valid URI.");
      return errors;
    }
    const scheme = uri.scheme?.toLowerCase() ?? "";
    if (["data", "vbscript", "javascript"].includes(scheme))
      errors.push("is forbidden by the server.");
    if (uri.fragment !== null) errors.push("cannot contain a fragment.");
    if (uri.opaque !== null || scheme === "localhost") errors.push("must specify a scheme.");
    if (uri.scheme === null && blank(uri.host)) errors.push("must be an absolute URI.");
    if (isHttp(uri) && blank(uri.host)) errors.push("must be a valid URI.");
  }
  return errors;
}

/** Mastodon's URLValidator: http(s) with a host. */
export function websiteValid(value: string): boolean {
  try {
    const uri = parseRubyUri(value);
    return isHttp(uri) && !blank(uri.host);
  } catch {
    return false;
  }
}

/** Rack::Utils.escape (URI.encode_www_form_component). */
export function wwwFormEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/%20/g, "+")
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Authorization::URIBuilder.uri_with_query / uri_with_fragment (blank values dropped). */
export function uriWith(
  url: string,
  params: Record<string, string | null>,
  fragment: boolean,
): string {
  const cleaned = Object.entries(params).filter(([, v]) => !blank(v)) as [string, string][];
  const build = (pairs: [string, string][]) =>
    pairs.map(([k, v]) => `${wwwFormEscape(k)}=${wwwFormEscape(v)}`).join("&");
  if (fragment) return `${url}#${build(cleaned)}`;
  // Rack::Utils.parse_query of the registered query, then the new parameters merged in.
  const q = url.indexOf("?");
  const base = q === -1 ? url : url.slice(0, q);
  const merged = new Map<string, string>();
  if (q !== -1) {
    for (const part of url.slice(q + 1).split("&")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const dec = (x: string) => decodeURIComponent(x.replace(/\+/g, " "));
      merged.set(
        dec(eq === -1 ? part : part.slice(0, eq)),
        eq === -1 ? "" : dec(part.slice(eq + 1)),
      );
    }
  }
  for (const [k, v] of cleaned) merged.set(k, v);
  return `${base}?${build([...merged].filter(([, v]) => !blank(v)))}`;
}
