/**
 * `npm run demo`: the terminal bot against a local Mastodon stand-in, so anyone
 * can walk the journey offline. Nothing real is touched; the state lives in a
 * throwaway folder.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startMastodonSandbox } from "../test/sandbox/mastodon.js";
import { createApp } from "./app.js";
import { readConfig } from "./config.js";
import { setLogLevel } from "./log.js";

const mastodon = await startMastodonSandbox({ domain: "demo.social", rateLimit: null });
mastodon.addAccount({ username: "ada", displayName: "Ada (demo)" });
mastodon.seedFollows("ada", 240);
mastodon.seedFollowers("ada", 600);
const token = mastodon.issueToken("ada", ["read:accounts", "read:follows"]);

const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-demo-"));
const config = readConfig({
  ...process.env,
  FEDIMOVE_CHANNEL: "console",
  DATA_DIR: dataDir,
  STORE_URL: `sqlite:${path.join(dataDir, "demo.sqlite")}`,
  ALLOW_PRIVATE_NETWORK: "true",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
});
setLogLevel(config.logLevel);

process.stdout.write(
  [
    "Demo: a Mastodon stand-in is running with the account @ada@demo.social (240 follows).",
    `  Its address:       ${mastodon.url}`,
    `  Its access token:  ${token}`,
    `Files the bot sends are saved under ${path.join(dataDir, "files")}.`,
    "",
  ].join("\n"),
);

const app = await createApp(config);
process.once(
  "SIGINT",
  () =>
    void app
      .stop()
      .then(() => mastodon.close())
      .then(() => process.exit(0)),
);
await app.run();
await app.stop();
await mastodon.close();
