import { describe, expect, it } from "vitest";
import { ConfigError, readConfig } from "../src/config.js";

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
    });
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
