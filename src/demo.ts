/**
 * `npm run demo`: the whole journey in a terminal, offline. A Mastodon server
 * (demo.social) and micro.blog (mb.demo) are played by the local stand-ins,
 * days are seconds, and the two web pages a real user would click through —
 * adding the alias on micro.blog, submitting the Move on the old server — are
 * the demo's own commands, !alias and !move. Nothing real is touched; the state
 * lives in a throwaway folder.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startMastodonSandbox } from "../sandbox/mastodon.js";
import { startMicroblogSandbox } from "../sandbox/microblog.js";
import { createApp } from "./app.js";
import { readConfig } from "./config.js";
import { setLogLevel } from "./log.js";

const FOLLOW_DOMAINS = ["hachyderm.demo", "fosstodon.demo", "social.demo"];
const origins: Record<string, string> = {};
const micro = await startMicroblogSandbox({ domain: "mb.demo", rateLimit: null });
const masto = await startMastodonSandbox({
  domain: "demo.social",
  rateLimit: null,
  originOf: (h) => origins[h] ?? null,
});
Object.assign(origins, { "mb.demo": micro.url, "demo.social": masto.url });
// The servers of the people Ada follows answer (played by the Mastodon stand-in); quiet.demo never does.
for (const d of FOLLOW_DOMAINS) origins[d] = masto.url;
origins["quiet.demo"] = "http://127.0.0.1:9";

masto.addAccount({ username: "ada", displayName: "Ada (demo)" });
const follows = masto.seedFollows("ada", 240, { domains: FOLLOW_DOMAINS });
// One in forty can't be found from micro.blog, so the report has something to say.
for (const [k, f] of follows.entries()) micro.addRemote(f.targetAcct, { exists: k % 40 !== 7 });
masto.seedFollowers("ada", 570, { domains: FOLLOW_DOMAINS });
masto.seedFollowers("ada", 30, { domains: ["quiet.demo"] });
const oldToken = masto.issueToken("ada", ["read"]);
const appToken = micro.addUser("ada");

const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-demo-"));
const config = readConfig({
  ...process.env,
  FEDIMOVE_CHANNEL: "console",
  DATA_DIR: dataDir,
  STORE_URL: `sqlite:${path.join(dataDir, "demo.sqlite")}`,
  ALLOW_PRIVATE_NETWORK: "true",
  SANDBOX_ORIGINS: JSON.stringify(origins),
  MICROBLOG_URL: micro.url,
  MICROBLOG_DOMAIN: "mb.demo",
  DAY_MS: "10000",
  WATCH_POLL_EARLY_MS: "2000",
  WATCH_EARLY_FOR_MS: "20000",
  WATCH_POLL_LATE_MS: "5000",
  WATCH_SETTLE_MS: "15000",
  WATCH_CAP_MS: "180000",
  // A demo hour lasts seconds, so the per-server request budget is opened up to match.
  WATCH_BUDGET_PER_HOUR: "1000000",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
});
setLogLevel(config.logLevel);

process.stdout.write(
  [
    "Demo: the old account is @ada@demo.social (240 follows, 600 followers); the new one is @ada@mb.demo.",
    `  Its address:          ${masto.url}`,
    `  Its access token:     ${oldToken}        (choose "Paste a token instead")`,
    `  micro.blog app token: ${appToken}`,
    "  !alias — add the alias on micro.blog's web page;  !move — submit demo.social's move form.",
    "  A day lasts 10 seconds here, and the transfer a minute or so.",
    `Files the bot sends are saved under ${path.join(dataDir, "files")}.`,
    "",
  ].join("\n"),
);

const app = await createApp(config, {
  hooks: {
    async alias() {
      micro.addAlias("ada", masto.actorUri("ada"));
      return "(micro.blog's web page: @ada@demo.social added as an alias of @ada@mb.demo)";
    },
    async move() {
      await masto.performMove("ada", "ada@mb.demo", {
        transfer: { perTick: 60, tickMs: 1500, stragglers: ["quiet.demo"] },
      });
      return "(demo.social's move page: the account now points to @ada@mb.demo; followers start moving)";
    },
  },
});
process.once(
  "SIGINT",
  () =>
    void app
      .stop()
      .then(() => Promise.all([masto.close(), micro.close()]))
      .then(() => process.exit(0)),
);
await app.run();
await app.stop();
await masto.close();
await micro.close();
