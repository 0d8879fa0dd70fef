/**
 * A TCP proxy in front of a real server, to take the server away from a client
 * without touching the server: `down()` closes every connection and stops
 * listening (a server that is gone: connections are refused), `pause()` keeps
 * every connection open but holds what either side sends (a server that hangs:
 * it accepts, and never answers), and `up()` puts things back — after a pause,
 * everything held is delivered in order, as a server that resumes would.
 */
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";

export interface TcpProxy {
  readonly port: number;
  /** The target's URL with the proxy's address in its place. */
  url(target: string): string;
  down(): Promise<void>;
  pause(): void;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpProxy(host: string, port: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; server: net.Socket }>();
  let paused = false;
  const held: (() => void)[] = [];
  const relay = (from: net.Socket, to: net.Socket) =>
    from.on("data", (chunk) => {
      if (paused) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const listener = net.createServer((client) => {
    const server = net.connect(port, host);
    const pair = { client, server };
    pairs.add(pair);
    relay(client, server);
    relay(server, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    for (const socket of [client, server]) socket.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const address = listener.address();
  if (typeof address !== "object" || address === null) throw new Error("proxy has no port");
  const own = address.port;
  let listening = true;
  const down = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const { client, server } of pairs) {
      client.destroy();
      server.destroy();
    }
    pairs.clear();
    held.length = 0;
    await closed;
  };
  return {
    port: own,
    url: (target) => {
      const parsed = new URL(target);
      parsed.host = `127.0.0.1:${own}`;
      return parsed.href;
    },
    down,
    pause: () => {
      paused = true;
    },
    async up() {
      paused = false;
      for (const deliver of held.splice(0)) deliver();
      if (!listening) {
        await new Promise<void>((resolve) => listener.listen(own, "127.0.0.1", resolve));
        listening = true;
      }
    },
    close: down,
  };
}

/**
 * A store that reaches `url`'s server through a proxy, its calls giving up after
 * a second; both are closed after the test (the store first, while the proxy
 * still relays its goodbye).
 */
export async function proxiedStore(
  url: string,
  closing: (opened: { close(): Promise<void> }) => unknown,
): Promise<{ proxy: TcpProxy; store: Store }> {
  const { hostname, port } = new URL(url);
  const proxy = await tcpProxy(hostname, Number(port));
  const store = await openStore(proxy.url(url), { callTimeoutMs: 1_000 });
  closing({ close: () => store.close() });
  closing(proxy);
  return { proxy, store };
}

/** Retries a check until it passes (the test's own timeout bounds it): clients reconnect in their own time. */
export async function eventually(check: () => Promise<void>): Promise<void> {
  for (;;) {
    try {
      return await check();
    } catch {
      await sleep(100);
    }
  }
}
