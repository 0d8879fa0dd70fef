/**
 * The bot's small web side, started only when PUBLIC_URL is set: the OAuth callback, the
 * one-time pages of channels that can't carry files or secrets (one-time-routes.ts), the
 * bot's instance actor and its WebFinger record (the key servers in secure mode check its
 * signed reads against), and a health check. Pages are plain HTML with every string escaped.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { escapeHtml } from "../../chat/text.js";
import { log, logContext, newRequestId } from "../../log.js";
import type { Page } from "./oauth-callback.js";
import { type OneTimeRequest, UPLOAD_LIMIT, type WebAnswer } from "./one-time-routes.js";
import type { RawRoute } from "./ops-routes.js";

export interface WebRoutes {
  callback(url: URL): Promise<Page>;
  oneTime?(r: OneTimeRequest): Promise<WebAnswer>;
  /** Routes that answer requests themselves (ops-routes.ts, the Telegram webhook), asked first. */
  raw?: readonly RawRoute[];
  /** The bot's instance actor: its document at /actor and its WebFinger record. */
  actor?: {
    document(): Promise<Record<string, unknown>>;
    webfinger(resource: string): Record<string, unknown> | undefined;
  };
}

/** JSON for other servers (the instance actor, its WebFinger), cacheable like Mastodon's. */
function sendJson(res: ServerResponse, type: string, body: unknown): void {
  res.writeHead(200, {
    "content-type": `${type}; charset=utf-8`,
    "cache-control": "max-age=180, public",
    "x-content-type-options": "nosniff",
  });
  res.end(JSON.stringify(body));
}

function render(p: Extract<WebAnswer, Page>): string {
  const field =
    p.form?.field === "token"
      ? `<p><input name="token" type="password" autocomplete="off" required style="width:100%"></p>`
      : p.form?.field === "file"
        ? `<p><input name="file" type="file" required></p>`
        : "";
  const form = p.form
    ? `<form method="post" enctype="${p.form.field === "file" ? "multipart/form-data" : "application/x-www-form-urlencoded"}">${field}<p><button>${escapeHtml(p.form.submit)}</button></p></form>`
    : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(p.title)} · fedimove</title></head><body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem"><h1>${escapeHtml(p.title)}</h1><p>${escapeHtml(p.body)}</p>${form}</body></html>`;
}

const HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

function send(res: ServerResponse, a: WebAnswer): void {
  if ("download" in a) {
    const name = a.download.name.replace(/[^\w.-]/g, "_");
    res.writeHead(200, {
      ...HEADERS,
      "content-type": name.endsWith(".zip") ? "application/zip" : "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${name}"`,
    });
    res.end(a.download.bytes);
    return;
  }
  res.writeHead(a.status, { ...HEADERS, "content-type": "text/html; charset=utf-8" });
  res.end(render(a));
}

/** The posted form, read up to `limit` bytes (undefined past it). */
async function readForm(req: IncomingMessage, limit: number): Promise<FormData | undefined> {
  // A form's overhead (boundary, field headers) is small; a body declared past the limit isn't read.
  if (Number(req.headers["content-length"] ?? 0) > limit + 64 * 1024) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return await new Request("http://web.invalid/", {
      method: "POST",
      headers: { "content-type": req.headers["content-type"] ?? "" },
      body: Buffer.concat(chunks),
    }).formData();
  } catch {
    return new FormData();
  }
}

/**
 * The request's path, or undefined when its target isn't one: Node's parser lets through
 * absolute-form targets (`GET http:// HTTP/1.1`, RFC 9112 §3.2.2) and others `URL` refuses.
 */
function targetOf(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? "/", "http://localhost");
  } catch {
    return undefined;
  }
}

async function answer(routes: WebRoutes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = targetOf(req);
  if (!url) {
    send(res, { status: 400, title: "Bad request", body: "That address isn't one I know." });
    return;
  }
  for (const route of routes.raw ?? []) if (route(req, url, res)) return;
  if (req.method === "GET" && url.pathname === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    return;
  }
  const actor = routes.actor;
  if (actor && req.method === "GET" && url.pathname === "/actor") {
    sendJson(res, "application/activity+json", await actor.document());
    return;
  }
  if (actor && req.method === "GET" && url.pathname === "/.well-known/webfinger") {
    const jrd = actor.webfinger(url.searchParams.get("resource") ?? "");
    if (jrd) sendJson(res, "application/jrd+json", jrd);
    else res.writeHead(404, HEADERS).end();
    return;
  }
  if (req.method === "GET" && url.pathname === "/oauth/callback") {
    send(res, await routes.callback(url));
    return;
  }
  const page = /^\/([dfu])\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
  if (page && routes.oneTime && (req.method === "GET" || req.method === "POST")) {
    const form = req.method === "POST" ? await readForm(req, UPLOAD_LIMIT) : undefined;
    if (req.method === "POST" && !form) {
      // The rest of the body is not read: the connection ends with this answer.
      res.setHeader("connection", "close");
      send(res, {
        status: 413,
        title: "That file is too large",
        body: "Nothing changed. The limit is 20 MB.",
      });
      return;
    }
    send(
      res,
      await routes.oneTime({
        method: req.method,
        kind: page[1] as "d" | "f" | "u",
        id: page[2]!,
        ...(form ? { form } : {}),
      }),
    );
    return;
  }
  send(res, { status: 404, title: "Not found", body: "There's nothing here." });
}

/**
 * What the web side holds at most. Its traffic is a person's browser now and then (a callback,
 * a one-time page), so the caps are far above it and far below what the process can hold:
 * sockets held open by anyone on the Internet must never take the file descriptors the bot
 * needs for Telegram, the store and the servers it talks to (1,100 idle sockets did, EMFILE).
 */
export const WEB_LIMITS = {
  /** Connections at once; past it Node closes new ones as they are accepted. */
  maxConnections: 256,
  /** A request's line and headers must arrive within this (slowloris). */
  headersTimeoutMs: 10_000,
  /** A whole request, a 20 MB upload on a slow line included. */
  requestTimeoutMs: 120_000,
  /** An idle kept-alive socket is closed after this. */
  keepAliveTimeoutMs: 5_000,
  /** A socket with nothing moving either way is closed after this. */
  idleTimeoutMs: 30_000,
  /** Header bytes (Node's default, stated so it stays). */
  maxHeaderSize: 16 * 1024,
};

export type WebLimits = typeof WEB_LIMITS;

export async function startWeb(
  routes: WebRoutes,
  opts: { host: string; port: number; limits?: Partial<WebLimits> },
): Promise<{ server: Server; url: string }> {
  const limits = { ...WEB_LIMITS, ...opts.limits };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderSize,
      // How often Node looks for requests past those timeouts (its default is 30 s).
      connectionsCheckingInterval: Math.min(limits.headersTimeoutMs, 5_000),
    },
    (req, res) =>
      // Every line logged while a request is answered names it.
      logContext({ request: newRequestId() }, () => {
        // Whatever arrives, the answer is a page or a closed socket: never a throw out of here.
        answer(routes, req, res).catch((err: unknown) => {
          log.error("web: page failed", { err });
          if (res.headersSent) res.destroy();
          else
            send(res, {
              status: 500,
              title: "Something went wrong",
              body: "Nothing changed. Go back to the chat and try again.",
            });
        });
      }),
  );
  server.maxConnections = limits.maxConnections;
  server.timeout = limits.idleTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, resolve);
  });
  const addr = server.address() as AddressInfo;
  return { server, url: `http://${addr.address}:${addr.port}` };
}
