/**
 * Real bot processes for end-to-end tests: each started from src/main.ts with its own data
 * folder and web port, a round-robin balancer in front of their web sides when there are
 * several (Telegram's webhook reaches any process), and /healthz to wait for. Killed with
 * SIGKILL after each test (`endedAfterEach`, or `killAll`).
 */
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { type Proc, startProcess } from "./process.js";

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Bot extends Proc {
  /** Its web side's port on 127.0.0.1. */
  port: number;
}

/**
 * src/main.ts with `env` over a test's defaults (its own data folder, a web port, the
 * sandbox's private addresses allowed, warnings only): `env.PORT` keeps a port, so a
 * process started again in a dead one's place takes over its place behind the balancer;
 * `env.DATA_DIR` keeps a data folder, so a process started again picks up where the last
 * one stopped. `fdLimit`: the file descriptors it may hold (`ulimit -n`).
 */
export async function startBot(
  env: Record<string, string>,
  opts: { fdLimit?: number } = {},
): Promise<Bot> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const proc = startProcess(
    "src/main.ts",
    {
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "fedimove-bot-")),
      ALLOW_PRIVATE_NETWORK: "true",
      LOG_LEVEL: "warn",
      HOST: "127.0.0.1",
      ...env,
      PORT: String(port),
    },
    [],
    opts,
  );
  return Object.assign(proc, { port });
}

/** /healthz's answer, or undefined when nothing answers. */
export async function health(
  port: number,
): Promise<{ status: number; body: Record<string, string> } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  } catch {
    return undefined;
  }
}

/** Whether each of these ports answers /healthz with 200. */
export async function allHealthy(ports: readonly number[]): Promise<boolean> {
  return (await Promise.all(ports.map(health))).every((h) => h?.status === 200);
}

/** Waits (bounded) until `ok` holds; the failure says what was awaited, and what the bots said. */
export async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  opts: { ms?: number; bots?: readonly Proc[] } = {},
): Promise<void> {
  const end = Date.now() + (opts.ms ?? 30_000);
  while (!(await ok())) {
    if (Date.now() > end) {
      const said = (opts.bots ?? []).map((b, k) => `--- bot ${k} stderr ---\n${b.stderr()}`);
      throw new Error([`gave up waiting: ${what}`, ...said].join("\n"));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Balancer {
  url: string;
  /** Requests each port was given. */
  served: number[];
  close(): Promise<void>;
}

/**
 * Forwards each request to the next port in turn, as a load balancer would; a port that
 * refuses (its process killed) is skipped for the next, as a balancer's health check
 * would take it out.
 */
export async function roundRobin(ports: readonly number[]): Promise<Balancer> {
  const served = ports.map(() => 0);
  let next = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    for (let tried = 0; tried < ports.length; tried++) {
      const k = next++ % ports.length;
      try {
        const answer = await fetch(`http://127.0.0.1:${ports[k]}${req.url}`, {
          method: req.method,
          headers: req.headers as Record<string, string>,
          body: req.method === "POST" ? Buffer.concat(chunks) : undefined,
        });
        served[k]! += 1;
        res.writeHead(answer.status).end(Buffer.from(await answer.arrayBuffer()));
        return;
      } catch {
        // Nothing listens there: the next one.
      }
    }
    res.writeHead(502).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * What each test of a file starts, ended after it whatever happened: the bot processes
 * (`killing`) killed first, then what they talked to (`closing`: stand-ins, balancers) closed,
 * the last opened first. Call once at the file's top level.
 */
export function endedAfterEach(): {
  killing<P extends Proc>(proc: P): P;
  closing<T extends { close(): Promise<unknown> }>(opened: T): T;
} {
  const procs: Proc[] = [];
  const open: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await killAll(procs);
    for (const x of open.splice(0).reverse()) await x.close();
  });
  return {
    killing(proc) {
      procs.push(proc);
      return proc;
    },
    closing(opened) {
      open.push(opened);
      return opened;
    },
  };
}

/** Kills every process (SIGKILL) and waits for each to exit. */
export async function killAll(procs: Proc[]): Promise<void> {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await p.exited;
  }
}
