/**
 * Runs the micro.blog stand-in as its own process:
 *
 *   node --import tsx sandbox/microblog-server.ts [--port N] [--domain D] [--no-rate-limit]
 *
 * Seeds a demo user "ada" (following two Fediverse accounts; a few more that micro.blog can
 * resolve, and one it can't), prints one JSON line {"url":…,"token":…} with ada's app token and
 * stops on SIGTERM/SIGINT. Drive it further through /_sandbox/* (see microblog.ts).
 */

import { parseArgs } from "node:util";
import { startMicroblogSandbox } from "./microblog.js";
import { stopOnSignal } from "./server-process.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    domain: { type: "string" },
    "no-rate-limit": { type: "boolean", default: false },
  },
  strict: true,
});

const sandbox = await startMicroblogSandbox({
  port: Number(values.port),
  ...(values.domain ? { domain: values.domain } : {}),
  ...(values["no-rate-limit"] ? { rateLimit: null } : {}),
});

const token = sandbox.addUser("ada", { name: "Ada Lovelace" });
for (const handle of [
  "alice@mastodon.example",
  "bob@fosstodon.example",
  "carol@hachyderm.example",
  "dave@mstdn.example",
]) {
  sandbox.addRemote(handle, { exists: true });
}
sandbox.addRemote("ghost@gone.example", { exists: false });
sandbox.follow("ada", "alice@mastodon.example");
sandbox.follow("ada", "bob@fosstodon.example");

process.stdout.write(`${JSON.stringify({ url: sandbox.url, token })}\n`);
stopOnSignal(sandbox);
