/**
 * What the Bot API takes as a webhook URL, modelled on its source (github.com/tdlib/telegram-bot-api,
 * which api.telegram.org runs outside its "local mode"): Client.cpp do_set_webhook parses the
 * URL with td::parse_url, https assumed when no scheme is given, and refuses what doesn't parse
 * ("Bad Request: invalid webhook URL specified"; an empty host or an unknown scheme doesn't);
 * WebhookActor.cpp start_up refuses http ("An HTTPS URL must be provided for webhook") and a
 * port other than 443, 80, 88 or 8443 ("Webhook can be set up only on ports 80, 88, 443 or
 * 8443"), and check_ip_address refuses an IPv6 address ("IPv6-only addresses are not allowed")
 * or a reserved IPv4 one ("IP address 10.0.0.1 is reserved", blocks from td's
 * IPAddress::is_reserved); Client.cpp sends these back as 400 "Bad Request: bad webhook: …".
 * Docs: core.telegram.org/bots/api#setwebhook ("Ports currently supported for webhooks: 443,
 * 80, 88, 8443") and core.telegram.org/bots/webhooks. Only an address literal is checked here:
 * the stand-in resolves no names.
 *
 * A URL too long for the request line is not refused: Telegram takes it and never delivers
 * (WebhookActor::send_update fails "URL is too long" once the request header passes td's
 * HttpHeaderCreator::MAX_HEADER, 4096 bytes), and so does the stand-in (see telegram-updates.ts).
 */
import { isIP } from "node:net";
import { ApiError } from "./telegram-errors.js";

/** td::HttpHeaderCreator::MAX_HEADER: the whole request header of a delivery must fit. */
export const MAX_DELIVERY_HEADER = 4096;

const PORTS = new Set([443, 80, 88, 8443]);

/** td's IPAddress::is_reserved, IPv4 blocks as [address, prefix length]. */
const RESERVED: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 3],
];

const ipv4 = (ip: string) => ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);

function reserved(ip: string): boolean {
  const n = ipv4(ip);
  return RESERVED.some(([block, bits]) => {
    const size = 2 ** (32 - bits);
    return Math.floor(n / size) === Math.floor(ipv4(block) / size);
  });
}

const bad = (reason: string) => new ApiError(400, `Bad Request: bad webhook: ${reason}`);

/** The webhook URL as Telegram parses it (first, before the secret token is checked). */
export function parseWebhookUrl(raw: string): URL {
  // td::parse_url: no "scheme://" means https; the authority runs to the first / ? or #.
  const withScheme = /^[^:/?#@[\]]*:\/\//.test(raw) ? raw : `https://${raw}`;
  const authority = withScheme.slice(withScheme.indexOf("://") + 3).split(/[/?#]/)[0] ?? "";
  const host = authority.slice(authority.lastIndexOf("@") + 1);
  let url: URL;
  try {
    if (host === "" || host.startsWith(":")) throw new Error("no host");
    url = new URL(withScheme);
  } catch {
    throw new ApiError(400, "Bad Request: invalid webhook URL specified");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new ApiError(400, "Bad Request: invalid webhook URL specified");
  return url;
}

/**
 * Throws the "bad webhook" ApiError Telegram answers for where the URL points (after the other
 * parameters are checked, when the webhook starts). `allowLoopbackHttp`: the stand-in's one
 * liberty, opted into by tests that run a bot on 127.0.0.1 — http or https to 127.0.0.1 or
 * localhost on any port, where no certificate can be had.
 */
export function refuseWebhookTarget(url: URL, allowLoopbackHttp: boolean): void {
  const loopback = url.hostname === "127.0.0.1" || url.hostname === "localhost";
  if (allowLoopbackHttp && loopback) return;
  if (url.protocol !== "https:") throw bad("An HTTPS URL must be provided for webhook");
  const port = url.port === "" ? 443 : Number(url.port);
  if (!PORTS.has(port)) throw bad("Webhook can be set up only on ports 80, 88, 443 or 8443");
  // The one name the stand-in can resolve as Telegram would: to loopback, which is reserved.
  const literal = url.hostname === "localhost" ? "127.0.0.1" : url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(literal) === 6) throw bad("IPv6-only addresses are not allowed");
  if (isIP(literal) === 4 && reserved(literal)) throw bad(`IP address ${literal} is reserved`);
}

/** Whether a delivery's request header would pass Telegram's limit (see the comment above). */
export function fitsDeliveryHeader(url: URL, secret: string | undefined): boolean {
  const header =
    `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    (url.username ? `Authorization: Basic ${btoa(`${url.username}:${url.password}`)}\r\n` : "") +
    (secret ? `X-Telegram-Bot-Api-Secret-Token: ${secret}\r\n` : "") +
    "Content-Type: application/json\r\nContent-Length: 0000000\r\nConnection: keep-alive\r\nAccept-Encoding: gzip, deflate\r\n\r\n";
  return Buffer.byteLength(header) <= MAX_DELIVERY_HEADER;
}
