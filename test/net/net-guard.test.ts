import { describe, expect, it } from "vitest";
import { parseInstance } from "../../src/clients/instance.js";
import { checkUrl, isPublicAddress } from "../../src/net/net-guard.js";

describe("isPublicAddress", () => {
  it.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "64:ff9b::10.0.0.1",
  ])("refuses %s", (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"])("accepts %s", (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
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
