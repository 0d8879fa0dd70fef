import { randomBytes } from "node:crypto";
import dns from "node:dns";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../sandbox/mastodon.js";
import { ConfigError, readConfig } from "../src/config.js";
import { type Core, createCore } from "../src/core.js";
import { UnreachableError } from "../src/net/errors.js";
import { openMemoryStore } from "../src/store/memory-store.js";
import { Sealer } from "../src/store/seal.js";
import { makeChat } from "./helpers/chat.js";
import { closedAfterEach } from "./helpers/closing.js";

describe("config", () => {
  it("defaults to the terminal and a SQLite file under ./data", () => {
    const c = readConfig({});
    expect(c.channel).toBe("console");
    expect(c.storeUrl).toMatch(/^sqlite:.*data\/fedimove\.sqlite$/);
    expect(c.allowPrivateNetwork).toBe(false);
    expect(c.telegram).toBeUndefined();
  });

  it("runs on Telegram when a token is set, against the configured API root", () => {
    const c = readConfig({
      TELEGRAM_BOT_TOKEN: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
      TELEGRAM_API_ROOT: "http://127.0.0.1:9/",
    });
    expect(c.channel).toBe("telegram");
    expect(c.telegram).toEqual({
      token: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
      apiRoot: "http://127.0.0.1:9",
      webhook: true,
    });
    // A process with PUBLIC_URL may keep polling.
    const polling = readConfig({
      TELEGRAM_BOT_TOKEN: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
      TELEGRAM_WEBHOOK: "false",
    });
    expect(polling.telegram?.webhook).toBe(false);
  });

  it("refuses at start a PUBLIC_URL Telegram's webhook can't reach, naming what it takes", () => {
    const tg = { TELEGRAM_BOT_TOKEN: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ" };
    const takes =
      "PUBLIC_URL: Telegram sends updates by webhook only to https on port 443, 80, 88 or 8443, and";
    const fix =
      "; serve the bot at such an address, or set TELEGRAM_WEBHOOK=false to poll Telegram instead";
    expect(() => readConfig({ ...tg, PUBLIC_URL: "http://bot.example" })).toThrow(
      new ConfigError(`${takes} this one is http${fix}`),
    );
    expect(() => readConfig({ ...tg, PUBLIC_URL: "https://bot.example:8080/fedimove" })).toThrow(
      new ConfigError(`${takes} this one is on port 8080${fix}`),
    );
    for (const ok of [
      "https://bot.example",
      "https://bot.example:8443/",
      "https://bot.example:88",
      "https://bot.example:80",
    ])
      expect(readConfig({ ...tg, PUBLIC_URL: ok }).web?.publicUrl).toBe(ok.replace(/\/$/, ""));
    // Polling, or no Telegram: PUBLIC_URL serves only the web side, which may be anywhere.
    expect(
      readConfig({ ...tg, PUBLIC_URL: "http://bot.example:8080", TELEGRAM_WEBHOOK: "false" }).web,
    ).toBeDefined();
    expect(readConfig({ PUBLIC_URL: "http://bot.example:8080" }).web).toBeDefined();
    // A local Bot API server takes http and any port
    // (core.telegram.org/bots/api#using-a-local-bot-api-server).
    expect(
      readConfig({
        ...tg,
        TELEGRAM_API_ROOT: "http://127.0.0.1:8081",
        PUBLIC_URL: "http://10.0.0.5:8080",
      }).web?.publicUrl,
    ).toBe("http://10.0.0.5:8080");
  });

  it("runs the Mastodon DM channel alone when only the bot account is set, or beside Telegram", () => {
    const dm = { MASTODON_BOT_URL: "https://bots.example/", MASTODON_BOT_TOKEN: "a".repeat(43) };
    const alone = readConfig(dm);
    expect(alone.channel).toBe("none");
    expect(alone.mastodonDm).toEqual({
      url: "https://bots.example",
      token: "a".repeat(43),
      pollMs: 15_000,
    });
    const both = readConfig({ ...dm, TELEGRAM_BOT_TOKEN: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ" });
    expect(both.channel).toBe("telegram");
    expect(both.mastodonDm?.url).toBe("https://bots.example");
    expect(() => readConfig({ MASTODON_BOT_URL: "https://bots.example" })).toThrow(
      /^MASTODON_BOT_TOKEN: required with MASTODON_BOT_URL$/,
    );
    expect(() => readConfig({ FEDIMOVE_CHANNEL: "mastodon" })).toThrow(/^MASTODON_BOT_URL: /);
  });

  it("shares jobs through BullMQ on STORE_URL's Redis, or on QUEUE_URL's when the state is elsewhere", () => {
    expect(readConfig({}).queueUrl).toBeUndefined();
    expect(readConfig({ STORE_URL: "redis://r:6379/1" }).queueUrl).toBe("redis://r:6379/1");
    expect(readConfig({ STORE_URL: "postgres://p/db" }).queueUrl).toBeUndefined();
    expect(
      readConfig({ STORE_URL: "postgres://p/db", QUEUE_URL: "rediss://q:6380" }).queueUrl,
    ).toBe("rediss://q:6380");
  });

  it.each([
    [{ TELEGRAM_BOT_TOKEN: "nope" }, /^TELEGRAM_BOT_TOKEN: a token from @BotFather/],
    [
      { STORE_URL: "mysql://x" },
      /^STORE_URL: sqlite:PATH, redis:\/\/…, postgres:\/\/… or memory:$/,
    ],
    [{ ALLOW_PRIVATE_NETWORK: "maybe" }, /^ALLOW_PRIVATE_NETWORK: /],
    [{ LOG_LEVEL: "loud" }, /^LOG_LEVEL: /],
    [{ FEDIMOVE_SECRET: "short" }, /^FEDIMOVE_SECRET: at least 16 characters$/],
    [
      { FEDIMOVE_CHANNEL: "telegram" },
      /^TELEGRAM_BOT_TOKEN: required when FEDIMOVE_CHANNEL=telegram$/,
    ],
    [{ TELEGRAM_API_ROOT: "ftp://x" }, /^TELEGRAM_API_ROOT: /],
    [{ QUEUE_URL: "postgres://p/db" }, /^QUEUE_URL: redis:\/\/… \(BullMQ's Redis/],
  ])("stops with one line naming the variable: %o", (env, message) => {
    expect(() => readConfig(env)).toThrow(ConfigError);
    expect(() => readConfig(env)).toThrow(message);
  });

  it("never echoes the value, which may be a secret", () => {
    try {
      readConfig({ TELEGRAM_BOT_TOKEN: "secret-looking-value-123" });
    } catch (err) {
      expect(String(err)).not.toContain("secret-looking-value-123");
    }
  });
});

describe("SANDBOX_ORIGINS", () => {
  const origins = JSON.stringify({ "old.example": "http://127.0.0.1:4000" });
  it("maps domains to the stand-ins only when private networks are allowed", () => {
    expect(
      readConfig({ SANDBOX_ORIGINS: origins, ALLOW_PRIVATE_NETWORK: "true" }).originOf(
        "old.example",
      ),
    ).toBe("http://127.0.0.1:4000");
    expect(readConfig({ SANDBOX_ORIGINS: origins }).originOf("old.example")).toBe(
      "https://old.example",
    );
    expect(readConfig({}).originOf("mastodon.social")).toBe("https://mastodon.social");
  });

  it("says what it expects when it isn't JSON", () => {
    expect(() => readConfig({ SANDBOX_ORIGINS: "old.example=x" })).toThrow(
      /^SANDBOX_ORIGINS: a JSON object of domains to origins/,
    );
  });
});

describe("the sandbox reaches no server it doesn't play", () => {
  const played = JSON.stringify({ "old.example": "http://127.0.0.1:4000" });
  const sandbox = readConfig({ SANDBOX_ORIGINS: played, ALLOW_PRIVATE_NETWORK: "true" });

  it("sends every name it doesn't play under .invalid, and loopback addresses over http", () => {
    expect(sandbox.originOf("old.example")).toBe("http://127.0.0.1:4000");
    expect(sandbox.originOf("127.0.0.1:5000")).toBe("http://127.0.0.1:5000");
    expect(sandbox.originOf("[::1]:5000")).toBe("http://[::1]:5000");
    for (const [host, origin] of [
      ["example.com", "https://example.com.invalid"],
      ["mastodon.social:8443", "https://mastodon.social.invalid"],
      ["93.184.215.14", "https://93.184.215.14.invalid"],
      ["10.0.0.1:80", "https://10.0.0.1.invalid"],
      ["[2001:db8::1]", "https://2001-db8--1.invalid"],
      ["localhost:3000", "https://localhost.invalid"],
    ]) {
      expect(sandbox.originOf(host!)).toBe(origin);
    }
    // Private networks allowed without a sandbox: an operator's own servers, by name.
    const local = readConfig({ ALLOW_PRIVATE_NETWORK: "true" });
    expect(local.originOf("mastodon.lan")).toBe("https://mastodon.lan");
    expect(local.originOf("127.0.0.1:3000")).toBe("http://127.0.0.1:3000");
  });

  describe("over the bot's own network", () => {
    const lookups: string[] = [];
    const cores: Core[] = [];
    const closing = closedAfterEach<MastodonSandbox>();
    afterEach(async () => {
      vi.restoreAllMocks();
      lookups.length = 0;
      for (const c of cores.splice(0)) await c.close();
    });

    /** The world the bot builds from this config; every DNS lookup noted (and answered "no such name"). */
    async function botWorld(origins: Record<string, string>) {
      vi.spyOn(dns, "lookup").mockImplementation(((
        hostname: string,
        _options: unknown,
        callback: (err: Error) => void,
      ) => {
        lookups.push(hostname);
        callback(
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }),
        );
      }) as unknown as typeof dns.lookup);
      const config = readConfig({
        SANDBOX_ORIGINS: JSON.stringify(origins),
        ALLOW_PRIVATE_NETWORK: "true",
      });
      const core = createCore({
        store: openMemoryStore(),
        sealer: new Sealer(randomBytes(32)),
        network: {
          allowPrivateNetwork: config.allowPrivateNetwork,
          timeoutMs: 2000,
          backoffMs: 10,
          originOf: config.originOf,
        },
      });
      cores.push(core);
      return core.world;
    }

    it("a name it doesn't play: no DNS lookup, and the user hears there is no such server", async () => {
      const old = closing(await startMastodonSandbox({ domain: "old.example", rateLimit: null }));
      const world = await botWorld({ "old.example": old.url });
      const chat = await makeChat(world);
      await chat.send("/start");
      const r = await chat.send("example.com");
      expect(r.text).toBe(
        "I couldn't find a server called example.com. Check the spelling? Send the server's name again when ready.",
      );
      const typed = await chat.send("https://mastodon.social/@ada");
      expect(typed.text).toMatch(/^I couldn't find a server called mastodon\.social\./);
      expect(lookups).toEqual([]);
      // The server it plays answers as before.
      const info = await world.probeMastodon(world.originOf("old.example"));
      expect(info.domain).toBe("old.example");
      expect(lookups).toEqual([]);
    });

    it("nor for the Fediverse's names: WebFinger, NodeInfo, the preview's look at servers", async () => {
      const world = await botWorld({});
      const err = await world.fediverse.webfinger("ada@example.com").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as Error).message).toBe("example.com was not found");
      await expect(world.fediverse.nodeinfo("example.com")).rejects.toBeInstanceOf(
        UnreachableError,
      );
      expect(await world.serversAnswering(["example.com", "mastodon.social"])).toEqual(new Set());
      expect(lookups).toEqual([]);
    });
  });
});
