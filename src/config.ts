/**
 * The one place that reads process.env. Every setting is validated here, so a
 * wrong value stops start-up with one line naming the variable, instead of a
 * crash deep inside a transport an hour later.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { WatchOptions } from "./jobs/watch-job.js";
import { isLoopbackAddress } from "./net/net-guard.js";

const flag = z
  .enum(["1", "0", "true", "false", "yes", "no", "on", "off", ""])
  .transform((v) => ["1", "true", "yes", "on"].includes(v));

/** A duration in milliseconds, with a default. */
const ms = (fallback: number, min = 10) => z.coerce.number().int().min(min).default(fallback);

const schema = z.object({
  TELEGRAM_BOT_TOKEN: z
    .string()
    .regex(/^\d+:[\w-]{20,}$/, "a token from @BotFather, like 123456:ABC-DEF…")
    .optional(),
  TELEGRAM_API_ROOT: z.url({ protocol: /^https?$/ }).default("https://api.telegram.org"),
  // With PUBLIC_URL, updates come by webhook unless this is off (one process that serves only
  // the OAuth callback and one-time pages can keep polling).
  TELEGRAM_WEBHOOK: flag.default(true),
  STORE_URL: z
    .string()
    .regex(
      /^(sqlite:|redis:|rediss:|postgres:|postgresql:|memory:)/,
      "sqlite:PATH, redis://…, postgres://… or memory:",
    )
    .optional(),
  QUEUE_URL: z
    .string()
    .regex(/^rediss?:\/\//, "redis://… (BullMQ's Redis, when the state is not on Redis)")
    .optional(),
  DATA_DIR: z.string().min(1).default("./data"),
  FEDIMOVE_SECRET: z.string().min(16, "at least 16 characters").optional(),
  ALLOW_PRIVATE_NETWORK: flag.default(false),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
  FEDIMOVE_CHANNEL: z.enum(["auto", "telegram", "console", "mastodon"]).default("auto"),
  MASTODON_BOT_URL: z
    .url({ protocol: /^https?$/, error: "the bot account's server, like https://bots.example" })
    .optional(),
  MASTODON_BOT_TOKEN: z
    .string()
    .regex(/^[\w.~+/=-]{16,256}$/, "the bot account's access token (one word)")
    .optional(),
  MASTODON_POLL_MS: ms(15_000, 50),
  JOB_LEASE_MS: z.coerce.number().int().min(1000).max(600_000).default(15_000),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: "the bot's public address, like https://fedimove.example" })
    .optional(),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  DAY_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(24 * 60 * 60_000),
  WATCH_POLL_EARLY_MS: ms(5 * 60_000),
  WATCH_EARLY_FOR_MS: ms(2 * 3_600_000, 0),
  WATCH_POLL_LATE_MS: ms(3_600_000),
  WATCH_SETTLE_MS: ms(48 * 3_600_000),
  WATCH_CAP_MS: ms(14 * 24 * 3_600_000),
  SANDBOX_ORIGINS: z
    .string()
    .transform((s, ctx) => {
      try {
        return z.record(z.string(), z.url()).parse(JSON.parse(s));
      } catch {
        ctx.addIssue({
          code: "custom",
          message:
            'a JSON object of domains to origins, like {"old.example":"http://127.0.0.1:3000"}',
        });
        return z.NEVER;
      }
    })
    .optional(),
  WATCH_BUDGET_PER_HOUR: z.coerce.number().int().min(1).default(600),
  FORGET_AFTER_MS: ms(30 * 24 * 3_600_000),
  MICROBLOG_URL: z.url({ protocol: /^https?$/ }).default("https://micro.blog"),
  MICROBLOG_DOMAIN: z.string().min(1).optional(),
  HOST: z.string().min(1).default("127.0.0.1"),
});

export type Config = {
  telegram?: { token: string; apiRoot: string; webhook: boolean };
  storeUrl: string;
  /**
   * The Redis that jobs are shared through (BullMQ), so any process runs any job:
   * QUEUE_URL, or STORE_URL when that is Redis. Absent: jobs run in this process.
   */
  queueUrl?: string;
  dataDir: string;
  /** Absent: a key is generated once and kept in dataDir (see store/seal.ts). */
  secret?: string;
  allowPrivateNetwork: boolean;
  logLevel: z.infer<typeof schema>["LOG_LEVEL"];
  httpTimeoutMs: number;
  /**
   * The chat channel besides the Mastodon DM one: Telegram, the terminal, or none (the DM
   * channel alone).
   */
  channel: "telegram" | "console" | "none";
  /** The bot's own Fediverse account, for the whole journey by direct message. */
  mastodonDm?: { url: string; token: string; pollMs: number };
  /** How long a job stays with a process that stopped answering before another takes it over. */
  jobLeaseMs: number;
  /** A "day" for reminders; the demo and tests compress it. */
  dayMs: number;
  /** The transfer watcher's intervals and budget; the demo and tests compress them. */
  watch: WatchOptions;
  /** Where a Fediverse domain is reached: https://domain, except domains the sandbox plays. */
  originOf: (host: string) => string;
  /** micro.blog's API, and the domain in its Fediverse handles (@ada@micro.blog). */
  microblog: { origin: string; domain: string };
  /** Where users' browsers reach the bot (OAuth callback); absent: codes are pasted instead. */
  web?: { publicUrl: string; host: string; port: number };
};

export class ConfigError extends Error {}

/** The host's name or address without its port and brackets; undefined when it isn't a host. */
function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return undefined;
  }
}

/** Ports Telegram delivers webhooks to (core.telegram.org/bots/api#setwebhook). */
const WEBHOOK_PORTS = ["443", "80", "88", "8443"];

/**
 * Telegram's cloud sends webhooks only over https to port 443, 80, 88 or 8443
 * (core.telegram.org/bots/api#setwebhook, core.telegram.org/bots/webhooks) and refuses
 * setWebhook otherwise; a local Bot API server (another TELEGRAM_API_ROOT, as the tests' stand-in
 * is) takes http and any port (core.telegram.org/bots/api#using-a-local-bot-api-server).
 * A PUBLIC_URL the cloud would refuse stops the start here, naming what it takes, rather than
 * falling back to polling: webhook mode is how several processes behind a load balancer share
 * one bot, and each polling instead would end the others' long polls (409 Conflict) — a
 * warning in a log is easily missed, while TELEGRAM_WEBHOOK=false says "poll" on purpose.
 * What only Telegram can judge (a private address, an unreachable host) comes back from
 * setWebhook at start, with Telegram's reason (channels/telegram-webhook.ts).
 */
function refuseUnreachableWebhook(publicUrl: string, apiRoot: string): void {
  if (new URL(apiRoot).hostname !== "api.telegram.org") return;
  const url = new URL(publicUrl);
  const why =
    url.protocol !== "https:"
      ? "this one is http"
      : !WEBHOOK_PORTS.includes(url.port || "443")
        ? `this one is on port ${url.port}`
        : undefined;
  if (why)
    throw new ConfigError(
      `PUBLIC_URL: Telegram sends updates by webhook only to https on port 443, 80, 88 or 8443, and ${why}; ` +
        "serve the bot at such an address, or set TELEGRAM_WEBHOOK=false to poll Telegram instead",
    );
}

/** Reads `.env` when there is one, without overriding what the environment already says. */
export function loadDotEnv(file = ".env"): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? "environment");
    // The value itself is never echoed: it may be a token.
    throw new ConfigError(`${name}: ${issue.message}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  if (Boolean(e.MASTODON_BOT_URL) !== Boolean(e.MASTODON_BOT_TOKEN)) {
    const missing = e.MASTODON_BOT_URL ? "MASTODON_BOT_TOKEN" : "MASTODON_BOT_URL";
    throw new ConfigError(
      `${missing}: required with ${missing === "MASTODON_BOT_URL" ? "MASTODON_BOT_TOKEN" : "MASTODON_BOT_URL"}`,
    );
  }
  const dm = e.MASTODON_BOT_URL && e.MASTODON_BOT_TOKEN;
  const channel: Config["channel"] =
    e.FEDIMOVE_CHANNEL === "auto"
      ? e.TELEGRAM_BOT_TOKEN
        ? "telegram"
        : dm
          ? "none"
          : "console"
      : e.FEDIMOVE_CHANNEL === "mastodon"
        ? "none"
        : e.FEDIMOVE_CHANNEL;
  if (channel === "telegram" && !e.TELEGRAM_BOT_TOKEN) {
    throw new ConfigError("TELEGRAM_BOT_TOKEN: required when FEDIMOVE_CHANNEL=telegram");
  }
  if (channel === "telegram" && e.TELEGRAM_WEBHOOK && e.PUBLIC_URL)
    refuseUnreachableWebhook(e.PUBLIC_URL, e.TELEGRAM_API_ROOT);
  if (e.FEDIMOVE_CHANNEL === "mastodon" && !dm) {
    throw new ConfigError("MASTODON_BOT_URL: required when FEDIMOVE_CHANNEL=mastodon");
  }
  return {
    telegram: e.TELEGRAM_BOT_TOKEN
      ? {
          token: e.TELEGRAM_BOT_TOKEN,
          apiRoot: e.TELEGRAM_API_ROOT.replace(/\/+$/, ""),
          webhook: e.TELEGRAM_WEBHOOK,
        }
      : undefined,
    mastodonDm: dm
      ? {
          url: e.MASTODON_BOT_URL!.replace(/\/+$/, ""),
          token: e.MASTODON_BOT_TOKEN!,
          pollMs: e.MASTODON_POLL_MS,
        }
      : undefined,
    storeUrl: e.STORE_URL ?? `sqlite:${path.join(dataDir, "fedimove.sqlite")}`,
    queueUrl: e.QUEUE_URL ?? (/^rediss?:/.test(e.STORE_URL ?? "") ? e.STORE_URL : undefined),
    dataDir,
    secret: e.FEDIMOVE_SECRET,
    allowPrivateNetwork: e.ALLOW_PRIVATE_NETWORK,
    logLevel: e.LOG_LEVEL,
    httpTimeoutMs: e.HTTP_TIMEOUT_MS,
    channel,
    jobLeaseMs: e.JOB_LEASE_MS,
    dayMs: e.DAY_MS,
    // Only with private networks allowed: a mapping must never redirect real servers' traffic.
    originOf: (host) => {
      if (!e.ALLOW_PRIVATE_NETWORK) return `https://${host}`;
      const played = e.SANDBOX_ORIGINS?.[host];
      if (played) return played;
      // An address on this machine, typed by the operator or linked by a stand-in (which
      // link to themselves as 127.0.0.1:PORT): over plain http.
      const hostname = hostnameOf(host);
      if (hostname && isLoopbackAddress(hostname)) return `http://${host}`;
      // The sandbox is a closed world: a name it doesn't play doesn't exist there. It goes to
      // a name under .invalid, which the network guard refuses as not found before any DNS
      // lookup, so the demo never reaches a real server and the user hears "I couldn't find…".
      if (e.SANDBOX_ORIGINS)
        return `https://${(hostname ?? "unknown").replace(/[[\]:]/g, "-")}.invalid`;
      return `https://${host}`;
    },
    watch: {
      pollEarlyMs: e.WATCH_POLL_EARLY_MS,
      earlyForMs: e.WATCH_EARLY_FOR_MS,
      pollLateMs: e.WATCH_POLL_LATE_MS,
      settleMs: e.WATCH_SETTLE_MS,
      capMs: e.WATCH_CAP_MS,
      budgetPerHour: e.WATCH_BUDGET_PER_HOUR,
      budgetReachMs: e.HTTP_TIMEOUT_MS,
      forgetAfterMs: e.FORGET_AFTER_MS,
      listEveryPollUpTo: 800,
    },
    microblog: {
      origin: new URL(e.MICROBLOG_URL).origin,
      domain: e.MICROBLOG_DOMAIN ?? new URL(e.MICROBLOG_URL).host,
    },
    web: e.PUBLIC_URL
      ? { publicUrl: e.PUBLIC_URL.replace(/\/+$/, ""), host: e.HOST, port: e.PORT }
      : undefined,
  };
}
