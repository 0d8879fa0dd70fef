// Links in the Telegram stand-in, ported from tdlib (td/utils/HttpUrl.cpp parse_url,
// LinkManager::check_link): what a text_link, button or link preview URL may be, normalized
// as Telegram stores it, or tdlib's reason for refusing it.

import { enc, isAlnum, isHexDigit, TextError } from "./telegram-text.js";

const URL_PART_OK = new Set("._-!$,~*'();&+=".split("").map((c) => c.charCodeAt(0)));

function checkUrlPart(part: string, name: string, allowColon: boolean): void {
  const b = enc.encode(part);
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (isAlnum(c) || URL_PART_OK.has(c) || (allowColon && c === 0x3a)) continue;
    if (
      c === 0x25 &&
      i + 2 < b.length &&
      isHexDigit(b[i + 1] as number) &&
      isHexDigit(b[i + 2] as number)
    ) {
      i += 2;
      continue;
    }
    if (c >= 128) continue;
    throw new TextError(`Disallowed character in URL ${name}`);
  }
}

function parseUrl(url: string): {
  protocol: "http" | "https";
  url: string;
  host: string;
  isIpv6: boolean;
  userinfo: string;
  port: number;
} {
  let rest = url;
  let protocol: "http" | "https" = "http";
  const m = /^([^:/?#@[\]]*):\/\//.exec(url);
  if (m) {
    const p = (m[1] as string).toLowerCase();
    if (p === "http" || p === "https") protocol = p;
    else throw new TextError("Unsupported URL protocol");
    rest = url.slice(m[0].length);
  }
  const hostEnd = rest.search(/[/?#]/);
  const userinfoHostPort = hostEnd < 0 ? rest : rest.slice(0, hostEnd);
  let query = hostEnd < 0 ? "" : rest.slice(hostEnd);
  let port = 0;
  let userinfoHost = userinfoHostPort;
  let colon = userinfoHostPort.length - 1;
  while (colon > 0 && !":]@".includes(userinfoHostPort[colon] as string)) colon--;
  if (colon > 0 && userinfoHostPort[colon] === ":") {
    const portStr = userinfoHostPort.slice(colon + 1).replace(/^0+(?=.)/, "");
    port = /^\d{1,9}$/.test(portStr) && Number(portStr) > 0 ? Number(portStr) : -1;
    userinfoHost = userinfoHostPort.slice(0, colon);
  }
  if (port < 0 || port > 65535) throw new TextError("Wrong port number specified in the URL");
  const atPos = userinfoHost.lastIndexOf("@");
  const userinfo = atPos < 0 ? "" : userinfoHost.slice(0, atPos);
  let host = userinfoHost.slice(atPos + 1);
  let isIpv6 = false;
  if (host.startsWith("[") && host.endsWith("]") && host.length >= 2) {
    isIpv6 = true;
    host = host.slice(1, -1);
  }
  if (host === "") throw new TextError("URL host is empty");
  if (host === ".") throw new TextError("Host is invalid");
  query = query.replace(/[\t\n\v\r \0]+$/, "");
  if (query === "") query = "/";
  let queryStr = query.startsWith("/") ? "" : "/";
  for (const ch of query) {
    const code = ch.codePointAt(0) as number;
    queryStr += code <= 0x20 ? `%${code.toString(16).toUpperCase().padStart(2, "0")}` : ch;
  }
  host = host.toLowerCase();
  if (isIpv6) {
    if (!/^[0-9a-f:.]+$/.test(host)) throw new TextError("Wrong IPv6 address specified in the URL");
  } else {
    checkUrlPart(host, "host", false);
  }
  checkUrlPart(userinfo, "userinfo", true);
  const hostPart = isIpv6 ? `[${host}]` : host;
  return {
    protocol,
    host,
    isIpv6,
    userinfo,
    port,
    url: `${protocol}://${userinfo ? `${userinfo}@` : ""}${hostPart}${port ? `:${port}` : ""}${queryStr}`,
  };
}

/** LinkManager::check_link: the normalized link, or tdlib's reason it is refused. */
export function checkLink(
  link: string,
  opts: { httpsOnly?: boolean } = {},
): { url: string } | { error: string } {
  try {
    let rest = link;
    let scheme: "tg" | "ton" | undefined;
    if (/^tg:/i.test(rest)) {
      scheme = "tg";
      rest = rest.slice(3);
    } else if (/^ton:/i.test(rest)) {
      scheme = "ton";
      rest = rest.slice(4);
    }
    if (scheme && rest.startsWith("//")) rest = rest.slice(2);
    const parsed = parseUrl(rest);
    if (opts.httpsOnly && (parsed.protocol !== "https" || scheme)) {
      return { error: "Only HTTPS links are allowed" };
    }
    if (scheme) {
      if (
        /^http:\/\//i.test(rest) ||
        parsed.protocol === "https" ||
        parsed.userinfo !== "" ||
        parsed.port !== 0 ||
        parsed.isIpv6
      ) {
        return { error: scheme === "tg" ? "Wrong tg URL" : "Wrong ton URL" };
      }
      if (!/^[A-Za-z0-9_-]+$/.test(parsed.host)) {
        return { error: `Unallowed characters in ${scheme} URL host` };
      }
      let query = parsed.url.slice(parsed.url.indexOf(parsed.host) + parsed.host.length);
      if (query.length > 1 && query[1] === "?") query = query.slice(1);
      return { url: `${scheme}://${parsed.host}${query}` };
    }
    if (!parsed.host.includes(".") && !parsed.isIpv6) return { error: "Wrong HTTP URL" };
    return { url: parsed.url };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}
