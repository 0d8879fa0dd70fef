/**
 * Runs the Telegram sandbox as its own process:
 *   node --import tsx sandbox/telegram-server.ts [--port N] [--token T]
 * Prints one JSON line {"url":…,"token":…} on stdout once listening; stops on SIGTERM/SIGINT.
 * Drive it over HTTP with connectTelegramSandbox (telegram-remote.ts) or the /control/… endpoints.
 */
import { parseArgs } from "node:util";
import { startTelegramSandbox } from "./telegram.js";

const { values } = parseArgs({
  options: { port: { type: "string" }, token: { type: "string" } },
});

const sandbox = await startTelegramSandbox({
  ...(values.port !== undefined ? { port: Number(values.port) } : {}),
  ...(values.token !== undefined ? { token: values.token } : {}),
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
