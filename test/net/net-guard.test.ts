import dns from "node:dns";
import { describe, expect, it, vi } from "vitest";
import { parseInstance } from "../../src/clients/instance.js";
import { UnreachableError } from "../../src/net/errors.js";
import { checkUrl, guardedLookup, isPublicAddress } from "../../src/net/net-guard.js";
import { client } from "./serve.js";

/** Teredo's client field: the client's IPv4 address with every bit flipped (RFC 4380 §4). */
function teredo(server: string, client: string): string {
  const groups = (ip: string, flip: boolean) => {
    const [a, b, c, d] = ip.split(".").map((x) => (flip ? 255 - Number(x) : Number(x)));
    return [(a! << 8) | b!, (c! << 8) | d!].map((g) => g.toString(16));
  };
  return ["2001", "0", ...groups(server, false), "8000", "63bf", ...groups(client, true)].join(":");
}

/** The IPv4 address in two hex groups, as ::ffff:7f00:1 writes 127.0.0.1. */
function hex(ip: string): string {
  const [a, b, c, d] = ip.split(".").map(Number);
  return `${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
}

/** Every way an IPv6 address carries this IPv4 one to it. */
function embeddings(ip: string): [string, string][] {
  return [
    ["mapped, dotted", `::ffff:${ip}`],
    ["mapped, hex", `::ffff:${hex(ip)}`],
    ["IPv4-translated", `::ffff:0:${ip}`],
    ["NAT64 well-known, dotted", `64:ff9b::${ip}`],
    ["NAT64 well-known, hex", `64:ff9b::${hex(ip)}`],
    ["IPv4-compatible, dotted", `::${ip}`],
    ["IPv4-compatible, hex", `::${hex(ip)}`],
    ["6to4", `2002:${hex(ip)}::1`],
    ["Teredo client", teredo("65.54.227.120", ip)],
  ];
}

const INNER = ["127.0.0.1", "10.0.0.1", "169.254.169.254"];
const PUBLIC_V4 = ["1.1.1.1", "8.8.8.8", "93.184.215.14"];

describe("isPublicAddress", () => {
  it.each([
    ["unspecified", "0.0.0.0"],
    ["this network", "0.1.2.3"],
    ["private", "10.0.0.1"],
    ["private", "172.16.0.1"],
    ["private", "172.31.255.254"],
    ["private", "192.168.1.1"],
    ["carrier-grade NAT", "100.64.0.1"],
    ["loopback", "127.0.0.1"],
    ["loopback", "127.255.255.254"],
    ["link-local, cloud metadata", "169.254.169.254"],
    ["IETF protocol assignments", "192.0.0.8"],
    ["documentation", "192.0.2.1"],
    ["documentation", "198.51.100.1"],
    ["documentation", "203.0.113.1"],
    ["6to4 relay anycast", "192.88.99.1"],
    ["benchmarking", "198.18.0.1"],
    ["AS112", "192.175.48.1"],
    ["AMT", "192.52.193.1"],
    ["multicast", "224.0.0.1"],
    ["reserved", "240.0.0.1"],
    ["broadcast", "255.255.255.255"],
  ])("refuses IPv4 %s: %s", (_range, ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    ["unspecified", "::"],
    ["loopback", "::1"],
    ["link-local", "fe80::1"],
    ["link-local with a zone", "fe80::1%eth0"],
    ["unique local", "fc00::1"],
    ["unique local", "fd12:3456::1"],
    ["site-local (deprecated)", "fec0::1"],
    ["multicast", "ff02::1"],
    ["discard", "100::1"],
    ["documentation", "2001:db8::1"],
    ["documentation", "3fff::1"],
    ["IETF protocol assignments", "2001:1::1"],
    ["benchmarking", "2001:2::1"],
    ["AMT", "2001:3::1"],
    ["AS112", "2001:4:112::1"],
    ["ORCHIDv2", "2001:20::1"],
    ["segment routing", "5f00::1"],
  ])("refuses IPv6 %s: %s", (_range, ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  describe.each(INNER)("%s inside IPv6", (inner) => {
    it.each(embeddings(inner))("refuses it %s: %s", (_form, ip) => {
      expect(isPublicAddress(ip)).toBe(false);
    });
  });

  it.each([
    ["the client is private", teredo("65.54.227.120", "10.0.0.1")],
    ["the server is private", teredo("10.0.0.1", "1.1.1.1")],
    ["the server is loopback", teredo("127.0.0.1", "8.8.8.8")],
  ])("refuses a Teredo address when %s", (_why, ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    "64:ff9b:1::7f00:1",
    "64:ff9b:1::127.0.0.1",
    "64:ff9b:1:7f00:0:100::",
    "64:ff9b:1:7f00:0:100:101:101",
    "64:ff9b:1::a00:1",
    "64:ff9b:1::a9fe:a9fe",
    // Public too: inside the local-use /48 the layout is the site's, so no reading is safe.
    "64:ff9b:1::1.1.1.1",
  ])("refuses NAT64's local-use prefix whole: %s", (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(["", "localhost", "127.1", "0x7f.0.0.1", "2130706433", "::ffff:127.0.0.1:80"])(
    "refuses what is not a plain address literal: %j",
    (ip) => {
      expect(isPublicAddress(ip)).toBe(false);
    },
  );

  it.each(["2606:4700:4700::1111", "2a00:1450:4001:82b::200e", "2001:4860:4860::8888"])(
    "accepts public IPv6 %s",
    (ip) => {
      expect(isPublicAddress(ip)).toBe(true);
    },
  );

  describe.each(PUBLIC_V4)("public %s", (ip) => {
    it("passes as it is", () => {
      expect(isPublicAddress(ip)).toBe(true);
    });
    it.each(embeddings(ip))("passes %s: %s", (_form, v6) => {
      expect(isPublicAddress(v6)).toBe(true);
    });
  });
});

describe("checkUrl", () => {
  it("refuses plain http and private literals unless allowed", () => {
    expect(() => checkUrl(new URL("http://mastodon.social"), false)).toThrow(/https/);
    expect(() => checkUrl(new URL("https://127.0.0.1:8443"), false)).toThrow(/private/);
    expect(() => checkUrl(new URL("https://[::1]/"), false)).toThrow(/private/);
    expect(() => checkUrl(new URL("https://localhost/"), false)).toThrow(/local/);
    expect(() => checkUrl(new URL("http://127.0.0.1:8443"), true)).not.toThrow();
    expect(() => checkUrl(new URL("https://mastodon.social"), false)).not.toThrow();
  });
});

describe("parseInstance", () => {
  it("reads what people type for their server", () => {
    for (const input of [
      "hachyderm.io",
      " https://hachyderm.io/ ",
      "@ada@hachyderm.io",
      "ada@hachyderm.io",
      "HACHYDERM.IO",
      "https://hachyderm.io/@ada",
    ]) {
      expect(parseInstance(input, false)).toEqual({
        ok: true,
        origin: "https://hachyderm.io",
        host: "hachyderm.io",
      });
    }
  });

  it("explains what is wrong", () => {
    expect(parseInstance("http://hachyderm.io", false)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/https/),
    });
    expect(parseInstance("192.168.0.10", false)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/private/),
    });
    expect(parseInstance("not a server", false)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/server name/),
    });
    expect(parseInstance("x".repeat(10_000), false)).toMatchObject({ ok: false });
    expect(parseInstance("", false)).toMatchObject({ ok: false });
    expect(parseInstance("ftp://a.example", false)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/https/),
    });
  });

  it("lets the operator allow local servers", () => {
    expect(parseInstance("http://127.0.0.1:3000", true)).toEqual({
      ok: true,
      origin: "http://127.0.0.1:3000",
      host: "127.0.0.1:3000",
    });
  });
});

describe("names under .invalid (RFC 6761)", () => {
  it("are not found, without asking DNS, whatever the operator allows", async () => {
    const lookup = vi.spyOn(dns, "lookup");
    try {
      for (const allowPrivate of [false, true]) {
        const { http } = client({ allowPrivate });
        const err = await http.request("https://example.com.invalid/x").catch((e) => e);
        expect(err).toBeInstanceOf(UnreachableError);
        expect(err.message).toBe("example.com.invalid was not found");
        const refused = await new Promise((resolve) =>
          guardedLookup(allowPrivate)("a.invalid.", { all: true }, (e) => resolve(e)),
        );
        expect(refused).toMatchObject({ code: "ENOTFOUND" });
      }
      expect(lookup).not.toHaveBeenCalled();
    } finally {
      lookup.mockRestore();
    }
  });
});
