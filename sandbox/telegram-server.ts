/**
 * Runs the Telegram sandbox as its own process:
 *   node --import tsx sandbox/telegram-server.ts [--port N] [--token T] [--allow-loopback-http]
 * Prints one JSON line {"url":…,"token":…} on stdout once listening; stops on SIGTERM/SIGINT.
 * Drive it over HTTP with connectTelegramSandbox (telegram-remote.ts) or the /control/… endpoints.
 */
import { parseArgs } from "node:util";
import { startTelegramSandbox } from "./telegram.js";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    token: { type: "string" },
    // Webhooks over http to 127.0.0.1 (see TelegramSandboxOptions.allowLoopbackHttp).
    "allow-loopback-http": { type: "boolean" },
  },
});

const sandbox = await startTelegramSandbox({
  ...(values.port !== undefined ? { port: Number(values.port) } : {}),
  ...(values.token !== undefined ? { token: values.token } : {}),
  allowLoopbackHttp: values["allow-loopback-http"] === true,
});
process.stdout.write(`${JSON.stringify({ url: sandbox.url, token: sandbox.token })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  sandbox.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
