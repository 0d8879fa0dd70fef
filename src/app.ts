/**
 * The one wiring function: config → store → HTTP layer → engine → jobs →
 * channels. main.ts, the demo and the end-to-end tests all start the bot here.
 */
import type { Server } from "node:http";
import path from "node:path";
import { ConsoleChannel, type ConsoleOptions } from "./channels/console.js";
import { MastodonDmChannel } from "./channels/mastodon-dm/channel.js";
import { TelegramChannel } from "./channels/telegram.js";
import { TelegramPolling } from "./channels/telegram-polling.js";
import { TelegramWebhook } from "./channels/telegram-webhook.js";
import { oauthCallback } from "./channels/web/oauth-callback.js";
import { OneTimePages } from "./channels/web/one-time.js";
import { oneTimeRoutes } from "./channels/web/one-time-routes.js";
import { opsRoutes } from "./channels/web/ops-routes.js";
import { startWeb } from "./channels/web/server.js";
import { type ChannelTraits, FULL_CHANNEL } from "./chat/channel.js";
import type { Notifier, NotifyArgs } from "./chat/conversation.js";
import type { Config } from "./config.js";
import { type Core, createCore } from "./core.js";
import { log } from "./log.js";
import { openStore } from "./store/open-store.js";
import { openQueueConnection } from "./store/queue-connection.js";
import { deriveKey, loadOrCreateSecretFile, Sealer } from "./store/seal.js";

type Channel = (TelegramChannel | ConsoleChannel | MastodonDmChannel) & Notifier;

export interface App {
  core: Core;
  /** The channels running: Telegram or the terminal, and the Mastodon DM channel. */
  channels: readonly Channel[];
  /** Resolves when the channels have started (the terminal's: when it is closed). */
  run(): Promise<void>;
  /**
   * Resolves, with the reason, when the bot can't go on while running (Telegram refused its
   * token): asking again can't help, so main stops it and exits non-zero, saying why.
   */
  readonly fatal: Promise<Error>;
  stop(): Promise<void>;
}

/** Replies outside a turn go to the channel the user talks on, by the key's prefix. */
function notifierRouter(
  byPrefix: Partial<Record<"tg" | "console" | "mastodon", Notifier>>,
): Notifier {
  return {
    async notify(...args: NotifyArgs) {
      const [user] = args;
      const prefix = user.slice(0, user.indexOf(":")) as keyof typeof byPrefix;
      const channel = byPrefix[prefix];
      // Kept in the outbox (the engine saved it first) for a process that has this channel, or
      // for this one once it is configured again: never dropped as if delivered.
      if (!channel) throw new Error(`no ${prefix} channel in this process`);
      await channel.notify(...args);
    },
  };
}

export async function createApp(
  config: Config,
  consoleOpts?: Partial<Pick<ConsoleOptions, "input" | "output" | "hooks" | "user">>,
): Promise<App> {
  const store = await openStore(config.storeUrl);
  const queue = config.queueUrl ? await openQueueConnection(config.queueUrl) : undefined;
  const secret = config.secret ?? loadOrCreateSecretFile(path.join(config.dataDir, "secret.key"));
  const core = createCore({
    store,
    sealer: new Sealer(deriveKey(secret)),
    network: {
      allowPrivateNetwork: config.allowPrivateNetwork,
      timeoutMs: config.httpTimeoutMs,
      originOf: config.originOf,
      microblog: config.microblog,
      publicUrl: config.web?.publicUrl,
    },
    dayMs: config.dayMs,
    jobLeaseMs: config.jobLeaseMs,
    queue,
    watch: config.watch,
  });
  const { engine, jobs } = core;
  const pages = config.web ? new OneTimePages(store, config.web.publicUrl) : undefined;
  let web: Server | undefined;

  let failed: (err: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => {
    failed = resolve;
  });
  const telegram =
    config.channel === "telegram" && config.telegram
      ? new TelegramChannel({ ...config.telegram, engine, onTokenRefused: failed })
      : undefined;
  // With a public address, Telegram comes by webhook to any process (unless turned off); else by
  // polling. Either way each update is kept in the store before Telegram is told it arrived.
  const webhook =
    telegram && config.web && config.telegram?.webhook
      ? new TelegramWebhook({
          channel: telegram,
          store,
          publicUrl: config.web.publicUrl,
          secret,
          leaseMs: config.jobLeaseMs,
        })
      : undefined;
  const intake =
    webhook ??
    (telegram
      ? new TelegramPolling({ channel: telegram, store, leaseMs: config.jobLeaseMs })
      : undefined);
  const terminal =
    config.channel === "console"
      ? new ConsoleChannel({ engine, filesDir: path.join(config.dataDir, "files"), ...consoleOpts })
      : undefined;
  const dm = config.mastodonDm
    ? new MastodonDmChannel({
        url: config.mastodonDm.url,
        token: config.mastodonDm.token,
        pollMs: config.mastodonDm.pollMs,
        leaseMs: config.jobLeaseMs,
        engine,
        store,
        http: core.http,
        originOf: config.originOf,
        pages,
        onTokenRefused: failed,
      })
    : undefined;
  const channels: Channel[] = [telegram, terminal, dm].filter(
    (c): c is NonNullable<typeof c> => c !== undefined,
  );
  engine.notifier = notifierRouter({ tg: telegram, console: terminal, mastodon: dm });
  engine.channels = (user): ChannelTraits =>
    dm && user.startsWith("mastodon:") ? dm.traits(user) : FULL_CHANNEL;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    engine.stop();
    await intake?.stop();
    for (const c of channels) await c.stop();
    await new Promise((r) => (web ? web.close(r) : r(undefined)));
    await core.close();
    await queue?.close();
    await store.close();
  };

  return {
    core,
    channels,
    fatal,
    async run() {
      const resumed = await jobs.startSweeping();
      if (resumed > 0) log.info("resumed unfinished jobs", { count: resumed });
      if (config.web) {
        const callback = oauthCallback({ signIn: core.signIn, engine });
        const ops = opsRoutes({
          store: () => store.namespace("health").get("ping"),
          // BullMQ's own Redis when jobs are shared, else the job records in the store.
          queue: () => jobs.check(),
        });
        const started = await startWeb(
          {
            callback,
            ...(pages ? { oneTime: oneTimeRoutes({ pages, engine }) } : {}),
            raw: webhook ? [ops, webhook.route] : [ops],
            ...(core.instanceActor ? { actor: core.instanceActor } : {}),
          },
          config.web,
        );
        web = started.server;
        log.info("web: listening", { at: started.url, public: config.web.publicUrl });
      }
      // The terminal's start lasts as long as the terminal, and the DM channel's as long as
      // another process holds its intake (here, replies to DM users go to that holder at once).
      const terminalRun = terminal?.start();
      const dmRun = dm?.start();
      // Awaited below, after the outbox starts: its failure must not go unhandled meanwhile.
      dmRun?.catch(() => undefined);
      await intake?.start();
      // What a killed process saved but never sent goes out now that the channels can send it,
      // in every process: one waiting for the DM intake sends to Telegram users all the same.
      engine.startOutbox();
      await Promise.all([dmRun, terminalRun]);
    },
    stop,
  };
}
