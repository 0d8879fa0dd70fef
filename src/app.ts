/**
 * The one wiring function: config → store → HTTP layer → engine → jobs →
 * channel. main.ts, the demo and the end-to-end tests all start the bot here.
 */
import type { Server } from "node:http";
import path from "node:path";
import { ConsoleChannel, type ConsoleOptions } from "./channels/console.js";
import { TelegramChannel } from "./channels/telegram.js";
import { oauthCallback } from "./channels/web/oauth-callback.js";
import { startWeb } from "./channels/web/server.js";
import type { Config } from "./config.js";
import { type Core, createCore } from "./core.js";
import { log } from "./log.js";
import { openStore } from "./store/open-store.js";
import { deriveKey, loadOrCreateSecretFile, Sealer } from "./store/seal.js";

export interface App {
  core: Core;
  channel: TelegramChannel | ConsoleChannel;
  /** Resolves when the channel ends by itself (the terminal was closed). */
  run(): Promise<void>;
  stop(): Promise<void>;
}

export async function createApp(
  config: Config,
  consoleOpts?: Partial<Pick<ConsoleOptions, "input" | "output" | "hooks">>,
): Promise<App> {
  const store = await openStore(config.storeUrl);
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
    watch: config.watch,
  });
  const { engine, jobs } = core;
  let web: Server | undefined;

  const channel =
    config.channel === "telegram" && config.telegram
      ? new TelegramChannel({ ...config.telegram, engine })
      : new ConsoleChannel({
          engine,
          filesDir: path.join(config.dataDir, "files"),
          ...consoleOpts,
        });
  engine.notifier = channel;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await channel.stop();
    await new Promise((r) => (web ? web.close(r) : r(undefined)));
    await core.close();
    await store.close();
  };

  return {
    core,
    channel,
    async run() {
      const resumed = await jobs.startSweeping();
      if (resumed > 0) log.info("resumed unfinished jobs", { count: resumed });
      if (config.web) {
        const callback = oauthCallback({ signIn: core.signIn, engine });
        const started = await startWeb({ callback }, config.web);
        web = started.server;
        log.info("web: listening", { at: started.url, public: config.web.publicUrl });
      }
      await channel.start();
    },
    stop,
  };
}
