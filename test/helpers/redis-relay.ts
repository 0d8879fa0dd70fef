/**
 * A TCP relay on 127.0.0.1 to the local Redis, which a test cuts (every connection
 * through it dropped, nothing listening) and restores on the same port: Redis as a
 * process sees it when the network or the server goes away and comes back.
 */
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";

export interface Relay {
  readonly port: number;
  /** Stops listening and drops every connection through it. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
}

/** A TCP relay on 127.0.0.1 to the local Redis. */
export async function redisRelay(): Promise<Relay> {
  let port = 0;
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = async () => {
    server = createServer((inbound) => {
      const outbound = connect(6379, "127.0.0.1");
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((r) => server!.listen(port, "127.0.0.1", r));
    // The first time, any free port; then the same one again.
    port = (server.address() as AddressInfo).port;
  };
  await listen();
  return {
    get port() {
      return port;
    },
    cut: async () => {
      const closing = new Promise((r) => (server?.listening ? server.close(r) : r(undefined)));
      for (const s of sockets) s.destroy();
      await closing;
    },
    restore: listen,
  };
}
