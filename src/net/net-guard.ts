/**
 * Instance names come from users, so the bot must not be talked into reaching
 * its own network. The check runs at connect time (inside the dispatcher's DNS
 * lookup), so a name that resolves to a public address for the first question
 * and a private one for the second gains nothing.
 */
import dns from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import { ForbiddenAddressError } from "./errors.js";

/**
 * The IPv6 ranges that carry an IPv4 address inside them, and where it sits. A packet sent
 * there ends at that IPv4 address (through a NAT64 translator, a 6to4 or Teredo relay, or the
 * host's own stack), so the address is only as public as every IPv4 address it carries.
 * ipaddr.js names the ranges (its special-range table); the layouts are the RFCs'.
 */
const EMBEDDED: Record<string, (parts: readonly number[]) => number[][]> = {
  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), in dotted or hex form alike.
  ipv4Mapped: (p) => [v4(p[6]!, p[7]!)],
  // ::ffff:0:a.b.c.d, IPv4-translated (RFC 6145/7915 SIIT).
  rfc6145: (p) => [v4(p[6]!, p[7]!)],
  // 64:ff9b::a.b.c.d, NAT64's well-known prefix, a /96 (RFC 6052 §2.1).
  rfc6052: (p) => [v4(p[6]!, p[7]!)],
  // 2002:AABB:CCDD::/48, 6to4 (RFC 3056 §2): the site's IPv4 address follows the prefix.
  "6to4": (p) => [v4(p[1]!, p[2]!)],
  // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, Teredo (RFC 4380 §4): the server, and the client's
  // address with every bit flipped; packets go to the client through the server's relay.
  teredo: (p) => [v4(p[2]!, p[3]!), v4(~p[6]! & 0xffff, ~p[7]! & 0xffff)],
};

/** Two 16-bit groups as the IPv4 octets they hold. */
function v4(hi: number, lo: number): number[] {
  return [hi >> 8, hi & 255, lo >> 8, lo & 255];
}

/** RFC 8215's local-use NAT64 prefix: a site picks its own layout inside it (RFC 6052 §2.2). */
const NAT64_LOCAL = ipaddr.IPv6.parseCIDR("64:ff9b:1::/48");

/**
 * Is this literal address one that any user may make the bot connect to? Only ordinary
 * unicast passes: every special range in ipaddr.js's table (loopback, private, link-local,
 * carrier-grade NAT, documentation, benchmarking, multicast, reserved…) is refused, and an
 * IPv6 address that carries an IPv4 one is judged by the IPv4 addresses it carries.
 */
export function isPublicAddress(address: string): boolean {
  // node:net's strict test first: ipaddr.js alone would also read forms like "127.1" or "0x7f.1".
  const family = isIP(address);
  if (family === 0) return false;
  const ip = ipaddr.parse(address);
  if (ip.kind() === "ipv4") return ip.range() === "unicast";
  const v6 = ip as ipaddr.IPv6;
  const range = v6.range();
  if (range === "rfc6052" && v6.match(NAT64_LOCAL)) {
    // The translator's layout inside the local-use /48 is the site's choice, so the IPv4
    // address an address stands for can't be read from it; IANA lists the /48 as not
    // globally reachable. Refused whole.
    return false;
  }
  const carried = EMBEDDED[range];
  if (carried) return carried(v6.parts).every((o) => new ipaddr.IPv4(o).range() === "unicast");
  if (range !== "unicast") return false;
  // ::a.b.c.d, IPv4-compatible (RFC 4291 §2.5.5.1, deprecated): unicast to ipaddr.js, but a
  // stack with automatic tunnelling still sends it to the IPv4 address.
  if (v6.parts.slice(0, 6).every((x) => x === 0)) {
    return new ipaddr.IPv4(v4(v6.parts[6]!, v6.parts[7]!)).range() === "unicast";
  }
  return true;
}

/** Is this literal address one on this machine (127.0.0.0/8, ::1, or either inside IPv6)? */
export function isLoopbackAddress(address: string): boolean {
  if (isIP(address) === 0) return false;
  const ip = ipaddr.process(address);
  return ip.range() === "loopback";
}

/**
 * RFC 6761 §6.4: a name under .invalid never resolves, and resolvers should say so without
 * asking anyone. Refused here as not found, before any lookup (the sandbox sends the names
 * it doesn't play there: see `originOf` in config.ts).
 */
export function isInvalidName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  return name === "invalid" || name.endsWith(".invalid");
}

/** What getaddrinfo says of a name that doesn't exist (Http reads it as "not found"). */
function notFound(hostname: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: "ENOTFOUND",
    hostname,
  });
}

/** A DNS lookup for the dispatcher that refuses non-public answers. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    if (isInvalidName(hostname)) return callback(notFound(hostname), "", 4);
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 4);
      const list = addresses as dns.LookupAddress[];
      const usable = allowPrivate ? list : list.filter((a) => isPublicAddress(a.address));
      if (usable.length === 0) {
        return callback(
          new ForbiddenAddressError(`${hostname} points to a private network address`, hostname),
          "",
          4,
        );
      }
      if (options.all)
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}

/** The check for URLs whose host is a literal address (no lookup happens for those). */
export function checkUrl(url: URL, allowPrivate: boolean): void {
  if (isInvalidName(url.hostname)) throw notFound(url.hostname);
  if (allowPrivate) return;
  if (url.protocol !== "https:") {
    throw new ForbiddenAddressError(`${url.host} must be reached over https`, url.host);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) && !isPublicAddress(host)) {
    throw new ForbiddenAddressError(`${url.host} is a private network address`, url.host);
  }
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local")) {
    throw new ForbiddenAddressError(`${url.host} is a local name`, url.host);
  }
}
