/**
 * The request pipeline the Mastodon and micro.blog stand-ins share, so that what a test injects
 * behaves the same in both: latency, faults (fail the next N requests under a path with a
 * status, hang, or drop the connection), the request log, body reading, the /_sandbox
 * endpoints that drive them and the handle members for them, and listening on 127.0.0.1.
 * Every request goes through these stages in this order:
 *
 *   /_sandbox, /_sandbox/…   control: never logged, delayed, failed or throttled
 *   open                     the log entry (status and duration filled in when it closes)
 *   body                     read whole (or skipped, as the stand-in says)
 *   latency                  a client that gave up meanwhile gets nothing more
 *   gate                     a refusal counted at arrival (micro.blog's nginx limit)
 *   fault                    the first queued fault whose path prefix matches
 *   chaos                    a random fault at the chosen rate (chaos.ts), when turned on
 *   answer                   the stand-in's own throttling and routing
 *
 * Each stand-in supplies the stages that differ (PipelineStages); the Telegram stand-in, whose
 * faults are per Bot API method, uses FaultQueue, readBody and sleep on their own.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import {
  BEFORE_ANSWER,
  Chaos,
  type ChaosKind,
  type ChaosOptions,
  ChaosOptionsSchema,
} from "./chaos.js";

export interface Reply {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

export const JSON_TYPE = "application/json; charset=utf-8";

/** A status fault: the reply instead of the real answer (the stand-in fills in the defaults). */
export interface StatusFault {
  status: number;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Fault = (
  | StatusFault
  /** Accept the request and never answer (until the client gives up or close()). */
  | { hang: true }
  /** Destroy the socket without answering (ECONNRESET / "fetch failed"). */
  | { drop: true }
  /**
   * Held `queuedMs` before the server handles it, then handled even if the client gave up
   * meanwhile, and answered if it is still there: a request waiting in a busy server's
   * backlog (Puma takes what its socket queue holds and runs it to the end; nothing checks
   * that the client still waits).
   */
  | { queuedMs: number }
) & {
  /** Only requests whose path starts with this consume the fault. */
  path?: string;
  /** Only requests with this method (a POST to a path that a GET shares). */
  method?: string;
};

// Building blocks of a stand-in's fault schema (each offers its own subset of fault kinds).
export const StatusFaultSchema = z.object({
  status: z.number().int().min(100).max(599),
  body: z.string().optional(),
  contentType: z.string().optional(),
});
export const FaultHeadersSchema = z.object({
  headers: z.record(z.string(), z.string()).optional(),
});
export const HangFaultSchema = z.object({ hang: z.literal(true) });
export const DropFaultSchema = z.object({ drop: z.literal(true) });
export const QueuedFaultSchema = z.object({ queuedMs: z.number().int().min(0) });
export const FaultPathSchema = z.object({
  path: z.string().startsWith("/").optional(),
  method: z.string().optional(),
});

const LatencySchema = z.object({ ms: z.number().int().min(0) });
const FailCountSchema = z.object({ n: z.number().int().min(1) });

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class BodyTooLarge extends Error {}

/** Reads the whole body; past `limit` bytes it keeps draining but throws BodyTooLarge. */
export async function readBody(req: IncomingMessage, limit = Number.POSITIVE_INFINITY) {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(buf);
  }
  if (tooLarge) throw new BodyTooLarge();
  return Buffer.concat(chunks);
}

/** Faults waiting for requests: each is used up after `n` matching requests, first queued first. */
export class FaultQueue<F> {
  private readonly slots: { remaining: number; fault: F }[] = [];

  add(n: number, fault: F): void {
    this.slots.push({ remaining: n, fault });
  }

  /** The first queued fault `matches` accepts, one use of it spent; null when there is none. */
  take(matches: (fault: F) => boolean): F | null {
    const i = this.slots.findIndex((s) => matches(s.fault));
    const slot = this.slots[i];
    if (!slot) return null;
    slot.remaining -= 1;
    if (slot.remaining <= 0) this.slots.splice(i, 1);
    return slot.fault;
  }

  /** Every fault still waiting, gone: the server works again. */
  clear(): void {
    this.slots.length = 0;
  }
}

/** What every logged request records; the stand-ins add their own fields. */
export interface LoggedRequest {
  /** 0 when no response was sent (hang, drop, client gave up). */
  status: number;
  durationMs: number;
}

/** Writes a reply unless the response is gone or already answered; HEAD gets no body. */
export function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.headersSent) return;
  res.statusCode = reply.status;
  res.setHeader("Content-Type", reply.contentType);
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  res.setHeader("Content-Length", Buffer.byteLength(reply.body));
  res.end(res.req.method === "HEAD" ? undefined : reply.body);
}

/** Sends `reply` the way `kind` spoils it (slow is waited for by the caller). */
export function sendSpoiled(res: ServerResponse, reply: Reply, kind: ChaosKind): void {
  if (res.destroyed || res.headersSent) return;
  switch (kind) {
    case "malformedJson": {
      const half = reply.body.slice(0, Math.floor(reply.body.length / 2));
      // An unterminated string: never valid JSON, however the cut falls.
      send(res, { ...reply, body: `${half}{"` });
      return;
    }
    case "brokenLink":
      send(res, {
        ...reply,
        headers: { ...reply.headers, Link: '<http://[broken>; rel="next", <>; rel="prev"' },
      });
      return;
    case "truncated": {
      const bytes = Buffer.from(reply.body);
      res.statusCode = reply.status;
      res.setHeader("Content-Type", reply.contentType);
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      res.setHeader("Content-Length", bytes.length + 1);
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy());
      return;
    }
    default:
      send(res, reply);
  }
}

export function jsonReply(status: number, body: unknown): Reply {
  return { status, body: JSON.stringify(body), contentType: JSON_TYPE };
}

/** Listens on 127.0.0.1 (port 0: any free port). */
export async function listenLocal(
  port: number,
): Promise<{ server: Server; port: number; url: string; close(): Promise<void> }> {
  const server = createServer({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The parts of the /_sandbox endpoints that differ between the stand-ins. */
export interface ControlRoutes {
  /** GET endpoints; undefined when the path isn't one of them (→ 404). */
  get(path: string, query: URLSearchParams): Reply | undefined;
  /** POST endpoints with the parsed JSON body; undefined when the path isn't one of them. */
  post(path: string, input: unknown): Reply | undefined | Promise<Reply | undefined>;
  /** A reply for an error the stand-in's endpoints throw on purpose; else 400 {error}. */
  error?(err: unknown): Reply | undefined;
}

/** One request as the stages see it. */
export interface Incoming {
  req: IncomingMessage;
  /** What req.url was: path and query as received. */
  rawUrl: string;
  /** The path the stand-in routes on (PipelineStages.path). */
  path: string;
  query: URLSearchParams;
  /** HEAD is answered as GET (without the body). */
  method: string;
  /** Arrival, wall clock. */
  started: number;
}

export interface PipelineStages<E extends LoggedRequest, S> {
  /** The path routing sees, from the URL's pathname (each server normalizes differently). */
  path(pathname: string): string;
  /** Runs first for every request, control requests included. */
  beforeEach?(): void;
  /** The /_sandbox endpoints of this stand-in besides the shared ones. */
  control: ControlRoutes;
  /** The request's log entry and what later stages need to know about it. */
  open(incoming: Incoming): { entry: E; state: S };
  /** Whether the body is read at all. */
  readsBody(method: string): boolean;
  /** After the latency, before faults: a refusal decided at arrival, or null. */
  gate?(state: S, entry: E): Reply | null;
  /** The reply to an injected status fault. */
  faultReply(fault: StatusFault): Reply;
  /** The real answer. */
  answer(incoming: Incoming, body: Buffer, state: S): Promise<Reply>;
  /** What an exception anywhere else in the pipeline gets. */
  crash(req: IncomingMessage): Reply;
}

/** The members every HTTP stand-in's handle has: latency, faults, the request log, close. */
export interface PipelineControls<E> {
  setLatency(ms: number): void;
  failNext(n: number, fault: Fault): void;
  /** Random faults from now on at `rate`, seeded (null: off); see chaos.ts. */
  setChaos(options: ChaosOptions | null): void;
  /** How many random faults of each kind were given since setChaos. */
  readonly chaosInjected: Readonly<Record<ChaosKind, number>> | null;
  readonly requests: readonly E[];
  resetLog(): void;
  close(): Promise<void>;
}

/** The faults, latency and log of one stand-in, and serving its requests through its stages. */
export class RequestPipeline<E extends LoggedRequest> {
  private readonly faults = new FaultQueue<Fault>();
  private log: E[] = [];
  private latencyMs = 0;
  private chaos: Chaos | null = null;

  constructor(
    /** Validates failNext's fault: the kinds this stand-in offers. */
    private readonly faultSchema: z.ZodType<Fault>,
  ) {}

  /** The handle members for these, with `close` for the server. */
  controls(close: () => Promise<void>): PipelineControls<E> {
    const pipeline = this;
    return {
      setLatency: (ms) => pipeline.setLatency(ms),
      failNext: (n, fault) => pipeline.failNext(n, fault),
      setChaos: (options) => pipeline.setChaos(options),
      get chaosInjected() {
        return pipeline.chaosInjected;
      },
      get requests() {
        return pipeline.requests;
      },
      resetLog: () => pipeline.resetLog(),
      close,
    };
  }

  get requests(): readonly E[] {
    return this.log;
  }

  resetLog(): void {
    this.log = [];
  }

  setLatency(ms: number): void {
    this.latencyMs = z.number().int().min(0).parse(ms);
  }

  failNext(n: number, fault: Fault): void {
    const count = FailCountSchema.shape.n.parse(n);
    this.faults.add(count, this.faultSchema.parse(fault));
  }

  setChaos(options: ChaosOptions | null): void {
    this.chaos = options === null ? null : new Chaos(options);
  }

  get chaosInjected(): Readonly<Record<ChaosKind, number>> | null {
    return this.chaos ? { ...this.chaos.injected } : null;
  }

  /** Answers the server's requests through the stand-in's stages. */
  serve<S>(server: Server, stages: PipelineStages<E, S>): void {
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      this.handle(stages, req, res).catch(() => {
        send(res, stages.crash(req));
      });
    });
  }

  private async handle<S>(
    stages: PipelineStages<E, S>,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const started = Date.now();
    const rawUrl = req.url ?? "/";
    const parsed = new URL(rawUrl, "http://sandbox.invalid");
    const path = stages.path(parsed.pathname);
    const query = parsed.searchParams;
    const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET");
    stages.beforeEach?.();

    if (path === "/_sandbox" || path.startsWith("/_sandbox/")) {
      send(res, await this.control(stages.control, req, path, query));
      return;
    }

    const incoming: Incoming = { req, rawUrl, path, query, method, started };
    const { entry, state } = stages.open(incoming);
    this.log.push(entry);
    res.on("close", () => {
      entry.status = res.headersSent ? res.statusCode : 0;
      entry.durationMs = Date.now() - started;
    });
    const body = stages.readsBody(method) ? await readBody(req) : Buffer.alloc(0);

    if (this.latencyMs > 0) {
      await sleep(this.latencyMs);
      if (res.destroyed || req.socket.destroyed) return;
    }

    const refusal = stages.gate?.(state, entry) ?? null;
    if (refusal) {
      send(res, refusal);
      return;
    }

    const fault = this.faults.take(
      (f) =>
        (f.path === undefined || path.startsWith(f.path)) &&
        (f.method === undefined || f.method === method),
    );
    if (fault && "queuedMs" in fault) {
      await sleep(fault.queuedMs);
      send(res, await stages.answer(incoming, body, state));
      return;
    }
    if (fault) {
      if ("hang" in fault) return; // never answer; close() or the client ends it
      if ("drop" in fault) {
        req.socket.destroy();
        return;
      }
      send(res, stages.faultReply(fault));
      return;
    }

    const chaos = this.chaos;
    const kind = chaos?.pick(path) ?? null;
    if (chaos && kind && BEFORE_ANSWER.has(kind)) {
      if (kind === "status5xx") send(res, stages.faultReply({ status: chaos.status() }));
      else if (kind === "reset") req.socket.destroy();
      else setTimeout(() => req.socket.destroy(), chaos.hangMs).unref();
      return;
    }
    const reply = await stages.answer(incoming, body, state);
    if (chaos && kind === "slow") await sleep(chaos.slowMs);
    if (kind) sendSpoiled(res, reply, kind);
    else send(res, reply);
  }

  /** The shared endpoints (requests, reset-log, latency, fail-next), then the stand-in's. */
  private async control(
    routes: ControlRoutes,
    req: IncomingMessage,
    path: string,
    query: URLSearchParams,
  ) {
    try {
      if (req.method === "GET") {
        if (path === "/_sandbox/requests") return jsonReply(200, this.log);
        if (path === "/_sandbox/chaos") return jsonReply(200, this.chaosInjected);
        return routes.get(path, query) ?? jsonReply(404, { error: "Not Found" });
      }
      if (req.method !== "POST") return jsonReply(404, { error: "Not Found" });
      const text = (await readBody(req)).toString("utf8");
      let input: unknown;
      try {
        input = text.trim() === "" ? {} : JSON.parse(text);
      } catch {
        return jsonReply(400, { error: "body is not JSON" });
      }
      switch (path) {
        case "/_sandbox/latency":
          this.setLatency(LatencySchema.parse(input).ms);
          return jsonReply(200, {});
        case "/_sandbox/fail-next": {
          const { n, ...fault } = FailCountSchema.and(this.faultSchema).parse(input);
          this.failNext(n, fault as Fault);
          return jsonReply(200, {});
        }
        case "/_sandbox/chaos":
          this.setChaos(input === null ? null : ChaosOptionsSchema.parse(input));
          return jsonReply(200, {});
        case "/_sandbox/reset-log":
          this.resetLog();
          return jsonReply(200, {});
        default:
          return (await routes.post(path, input)) ?? jsonReply(404, { error: "Not Found" });
      }
    } catch (err) {
      const own = routes.error?.(err);
      if (own) return own;
      const message = err instanceof z.ZodError ? z.prettifyError(err) : String(err);
      return jsonReply(400, { error: message });
    }
  }
}
