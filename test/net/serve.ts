/** A local HTTP server per test, and an Http over a fresh Pacer and GuardedDispatcher. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach } from "vitest";
import { GuardedDispatcher } from "../../src/net/dispatcher.js";
import { Http } from "../../src/net/http.js";
import { Pacer } from "../../src/net/pacer.js";

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
export const servers: http.Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

export async function serve(handler: Handler): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function client(opts: { allowPrivate?: boolean; timeoutMs?: number; pacer?: Pacer } = {}) {
  const pacer = opts.pacer ?? new Pacer(50);
  return {
    pacer,
    http: new Http(
      new GuardedDispatcher(pacer, opts.allowPrivate ?? true),
      opts.timeoutMs ?? 2000,
      20,
    ),
  };
}
