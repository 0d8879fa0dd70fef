/** `npm start`: read the config, start the bot, stop gracefully on SIGINT/SIGTERM. */
import { createApp } from "./app.js";
import { ConfigError, loadDotEnv, readConfig } from "./config.js";
import { log, setLogLevel } from "./log.js";

async function main(): Promise<void> {
  let config: ReturnType<typeof readConfig>;
  try {
    loadDotEnv();
    config = readConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fedimove: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  setLogLevel(config.logLevel);
  const app = await createApp(config);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal });
    await app.stop();
    process.exit(0);
  };
  void app.fatal.then(async (err) => {
    log.error("fatal", { err });
    if (!stopping) {
      stopping = true;
      await app.stop().catch(() => undefined);
    }
    process.exit(1);
  });
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  await app.run();
  if (config.channel === "console") await shutdown("console closed");
}

main().catch((err) => {
  log.error("fatal", { err });
  process.exit(1);
});
