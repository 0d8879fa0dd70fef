/**
 * `npm run demo`: the whole journey in a terminal, offline. A Mastodon server
 * (demo.social) and micro.blog (mb.demo) are played by the local stand-ins,
 * days are seconds, and the two web pages a real user would click through —
 * adding the alias on micro.blog, submitting the Move on the old server — are
 * the demo's own commands, !alias and !move. Nothing real is touched; the state
 * lives in a throwaway folder.
 *
 * `npm run demo -- --secure`: the same journey from a stricter old server, in secure mode
 * (AUTHORIZED_FETCH: its actors only to signed requests) with a closed API (no anonymous
 * reads), to a micro.blog account whose Fediverse handle is on its own domain (@ada@ada.demo);
 * the bot serves its instance actor on a local port and signs what it reads.
 *
 * `npm run demo -- --dm`: the same journey by direct message to the bot's own account,
 * @fedimove@demo.social. What you type, Ada sends as a DM; what the bot posts to her is
 * printed. The pages she'd open in a browser are !signin (approve the sign-in link) and
 * !token (paste the micro.blog app token on the bot's one-time page).
 */
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fetch } from "undici";
import { startMastodonSandbox } from "../sandbox/mastodon.js";
import { startMicroblogSandbox } from "../sandbox/microblog.js";
import { createApp } from "./app.js";
import { readConfig } from "./config.js";
import { setLogLevel } from "./log.js";

const FOLLOW_DOMAINS = ["hachyderm.demo", "fosstodon.demo", "social.demo"];
const secure = process.argv.includes("--secure");
const origins: Record<string, string> = {};
const micro = await startMicroblogSandbox({ domain: "mb.demo", rateLimit: null });
const masto = await startMastodonSandbox({
  domain: "demo.social",
  rateLimit: null,
  originOf: (h) => origins[h] ?? null,
  ...(secure ? { authorizedFetch: true, closedApi: "unauthenticated" as const } : {}),
});
Object.assign(origins, { "mb.demo": micro.url, "demo.social": masto.url });
// With --secure, Ada's micro.blog blog is ada.demo, and her Fediverse handle lives there.
if (secure) origins["ada.demo"] = micro.url;
const newHandle = secure ? "ada@ada.demo" : "ada@mb.demo";
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
const appToken = micro.addUser(
  "ada",
  secure ? { site: "ada.demo", fediverse: "ada@ada.demo" } : undefined,
);

const dm = process.argv.includes("--dm");
/** A free port for the bot's web side (the one-time pages of the DM demo). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
const web = dm || secure;
const webPort = web ? await freePort() : 0;
const publicUrl = `http://127.0.0.1:${webPort}`;
// The old server fetches the bot's key from its public address.
if (secure) origins[`127.0.0.1:${webPort}`] = publicUrl;
if (dm) masto.addAccount({ username: "fedimove", displayName: "fedimove (demo)" });
const botToken = dm
  ? masto.issueToken("fedimove", [
      "read:accounts",
      "read:notifications",
      "read:statuses",
      "write:statuses",
      "write:accounts",
      "write:notifications",
    ])
  : "";

const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-demo-"));
const config = readConfig({
  ...process.env,
  FEDIMOVE_CHANNEL: dm ? "mastodon" : "console",
  ...(dm
    ? {
        MASTODON_BOT_URL: masto.url,
        MASTODON_BOT_TOKEN: botToken,
        MASTODON_POLL_MS: "500",
        PUBLIC_URL: publicUrl,
        PORT: String(webPort),
      }
    : {}),
  ...(secure && !dm ? { PUBLIC_URL: publicUrl, PORT: String(webPort) } : {}),
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

/** The web pages of the move that Ada opens in a browser, played by the demo (!alias, !move). */
const movePages: Record<string, () => Promise<string>> = {
  async alias() {
    micro.addAlias("ada", masto.actorUri("ada"));
    return `(micro.blog's web page: @ada@demo.social added as an alias of @${newHandle})`;
  },
  async move() {
    await masto.performMove("ada", newHandle, {
      transfer: { perTick: 60, tickMs: 1500, stragglers: ["quiet.demo"] },
    });
    return `(demo.social's move page: the account now points to @${newHandle}; followers start moving)`;
  },
};

if (dm) {
  await runDm();
  process.exit(0);
}

process.stdout.write(
  [
    `Demo: the old account is @ada@demo.social (240 follows, 600 followers); the new one is @${newHandle}.`,
    ...(secure
      ? [
          "  demo.social is in secure mode with a closed API; the bot signs its reads as its own actor.",
        ]
      : []),
    `  Its address:          ${masto.url}`,
    `  Its access token:     ${oldToken}        (choose "Paste a token instead")`,
    `  micro.blog app token: ${appToken}`,
    "  !alias — add the alias on micro.blog's web page;  !move — submit demo.social's move form.",
    "  A day lasts 10 seconds here, and the transfer a minute or so.",
    `Files the bot sends are saved under ${path.join(dataDir, "files")}.`,
    "",
  ].join("\n"),
);

const app = await createApp(config, { hooks: movePages });
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

/** The DM demo: Ada's side of the conversation with @fedimove@demo.social, in this terminal. */
async function runDm(): Promise<void> {
  process.stdout.write(
    [
      "DM demo: you are @ada@demo.social (240 follows, 600 followers), writing to the bot @fedimove@demo.social.",
      "  Type a message and Ada sends it as a direct message; the bot's DMs to her are printed.",
      `  Her old server's address: ${masto.url}`,
      "  !signin — approve the latest sign-in link;  !token — paste micro.blog's app token on the bot's one-time page;",
      "  !alias, !move — the web pages of the move, as in the terminal demo;  Ctrl-D to leave.",
      "",
    ].join("\n"),
  );
  const app = await createApp(config);
  await app.run();
  const said = () => masto.mentioning("ada").filter((s) => s.account.acct === "fedimove");
  const text = (html: string) =>
    html
      .replace(/<br \/>/g, "\n")
      .replace(/<\/p><p>/g, "\n\n")
      .replace(/<[^>]+>/g, "")
      .replace(/&amp;/g, "&")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replaceAll("\u200B", "")
      .replace(/^@ada /, "");
  let printed = 0;
  const show = setInterval(() => {
    const all = said();
    for (const s of all.slice(printed)) process.stdout.write(`\n✉ @fedimove: ${text(s.content)}\n`);
    printed = all.length;
  }, 200);
  const latest = (pattern: RegExp) =>
    said()
      .map((s) => pattern.exec(text(s.content))?.[0])
      .filter((x): x is string => x !== undefined)
      .at(-1);
  const hooks: Record<string, () => Promise<string>> = {
    async signin() {
      const url = latest(/https?:\/\/\S+\/oauth\/authorize\S+/);
      if (!url) return "(no sign-in link yet)";
      const host = new URL(url).host;
      const server = host === new URL(masto.url).host ? masto : undefined;
      if (!server) return "(that link isn't demo.social's)";
      const approved = server.authorize("ada", url);
      if (approved.oob) {
        send(approved.code);
        return "(Ada approved, and pastes the code the page shows)";
      }
      await fetch(approved.redirectTo);
      return "(Ada approved; her browser went back to the bot's page)";
    },
    async token() {
      const url = latest(new RegExp(`${publicUrl}/f/[A-Za-z0-9_-]+`));
      if (!url) return "(no token page yet)";
      const res = await fetch(url, {
        method: "POST",
        body: new URLSearchParams({ token: appToken }),
      });
      return res.ok
        ? "(Ada pasted her app token on the bot's page)"
        : `(the page said ${res.status})`;
    },
    ...movePages,
  };
  function send(line: string): void {
    const last = said().at(-1)?.id;
    masto.postAs("ada", `@fedimove ${line}`, {
      visibility: "direct",
      ...(last ? { inReplyToId: last } : {}),
    });
  }
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === "") continue;
    const hook = /^!(\w+)$/.exec(line)?.[1];
    if (hook) {
      const run = hooks[hook];
      process.stdout.write(
        `${run ? await run().catch((e: Error) => `(${e.message})`) : `(no such demo action: !${hook})`}\n`,
      );
      continue;
    }
    send(line);
  }
  clearInterval(show);
  await app.stop();
  await masto.close();
  await micro.close();
}
