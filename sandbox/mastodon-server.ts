/**
 * Runs the Mastodon stand-in as its own process:
 *
 *   node --import tsx sandbox/mastodon-server.ts [--port N] [--seed demo]
 *        [--domain D] [--version 4.3.2]
 *
 * Prints one JSON line {"url":…,"token":…,"accountId":…} (token and accountId are null
 * without --seed) and stops on SIGTERM/SIGINT. Drive it further through POST /_sandbox/*.
 */

import { parseArgs } from "node:util";
import { startMastodonSandbox } from "./mastodon.js";
import { stopOnSignal } from "./server-process.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    seed: { type: "string" },
    domain: { type: "string" },
    version: { type: "string" },
  },
  strict: true,
});

if (values.seed !== undefined && values.seed !== "demo") {
  process.stderr.write(`unknown seed "${values.seed}" (only "demo")\n`);
  process.exit(2);
}

const sandbox = await startMastodonSandbox({
  port: Number(values.port),
  ...(values.domain ? { domain: values.domain } : {}),
  ...(values.version ? { version: values.version } : {}),
});

let token: string | null = null;
let accountId: string | null = null;
if (values.seed === "demo") {
  accountId = sandbox.addAccount({ username: "ada", displayName: "Ada Lovelace" }).id;
  sandbox.seedFollows("ada", 200);
  sandbox.seedFollowers("ada", 500);
  token = sandbox.issueToken("ada", [
    "profile",
    "read:accounts",
    "read:follows",
    "read:search",
    "write:follows",
  ]);
}

process.stdout.write(`${JSON.stringify({ url: sandbox.url, token, accountId })}\n`);
stopOnSignal(sandbox);
