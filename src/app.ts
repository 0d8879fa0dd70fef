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
import { MicroblogClient } from "./clients/microblog.js";
import { MastodonOAuth } from "./clients/oauth.js";
import { SignIn } from "./clients/sign-in.js";
import { realWorld } from "./clients/world.js";
import type { Config } from "./config.js";
import { Engine } from "./engine/engine.js";
import { registerJobs } from "./jobs/registry.js";
import { JobRunner } from "./jobs/runner.js";
import { log } from "./log.js";
import { GuardedDispatcher } from "./net/dispatcher.js";
import { Http } from "./net/http.js";
import { Pacer } from "./net/pacer.js";
import { openStore } from "./store/open-store.js";
import { deriveKey, loadOrCreateSecretFile, Sealer } from "./store/seal.js";

export interface App {
  engine: Engine;
  jobs: JobRunner;
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
  const sealer = new Sealer(deriveKey(secret));
  const dispatcher = new GuardedDispatcher(new Pacer(), config.allowPrivateNetwork);
  const http = new Http(dispatcher, config.httpTimeoutMs);
  const signIn = new SignIn(new MastodonOAuth(http), store, sealer, {
    publicUrl: config.web?.publicUrl,
  });
  const world = realWorld({
    http,
    signIn,
    microblog: new MicroblogClient(http, config.microblog.origin),
    microblogDomain: config.microblog.domain,
    allowPrivateNetwork: config.allowPrivateNetwork,
    timeoutMs: config.httpTimeoutMs,
    originOf: config.originOf,
  });
  const jobs = new JobRunner(store, { leaseMs: config.jobLeaseMs });
  const engine = new Engine({ store, sealer, world, jobs, dayMs: config.dayMs });
  registerJobs(jobs, {
    engine,
    world,
    sealer,
    store,
    notifier: () => engine.notifier,
    watch: config.watch,
  });
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
    await jobs.stop();
    await store.close();
    await dispatcher.close();
  };

  return {
    engine,
    jobs,
    channel,
    async run() {
      const resumed = await jobs.startSweeping();
      if (resumed > 0) log.info("resumed unfinished jobs", { count: resumed });
      if (config.web) {
        const started = await startWeb({ callback: oauthCallback({ signIn, engine }) }, config.web);
        web = started.server;
        log.info("web: listening", { at: started.url, public: config.web.publicUrl });
      }
      await channel.start();
    },
    stop,
  };
}
