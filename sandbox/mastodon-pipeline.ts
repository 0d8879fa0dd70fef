/**
 * The Mastodon stand-in's stages of the shared request pipeline (http-pipeline.ts): Journey's
 * path normalization, the log entry with Doorkeeper's token id, Mastodon's and nginx's bodies
 * for injected faults, then Rack::Attack (which runs before routing, so unknown routes count
 * too), the routes, and the headers every Rails response carries.
 */

import { randomUUID } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import { nginxErrorPage } from "./html.js";
import type { ControlRoutes, PipelineStages, StatusFault } from "./http-pipeline.js";
import { tokenString } from "./mastodon-auth.js";
import { type MastodonContext, settle } from "./mastodon-context.js";
import {
  BadRequestError,
  internalError,
  JSON_TYPE,
  plainJson,
  type Reply,
  readParams,
} from "./mastodon-http.js";
import { MASTODON_500_HTML } from "./mastodon-pages.js";
import { route } from "./mastodon-routes.js";
import type { TokenRow } from "./mastodon-rows.js";
import { successHeaders, throttledHeaders } from "./mastodon-throttle.js";
import type { RequestLogEntry } from "./mastodon-types.js";

function isTrustedProxy(ip: string): boolean {
  return (
    ip === "::1" ||
    /^127\./.test(ip) ||
    /^10\./.test(ip) ||
    /^192\.168\./.test(ip) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(ip) ||
    /^f[cd][0-9a-f]{2}:/i.test(ip) ||
    /^fe80:/i.test(ip)
  );
}

function normalizeIp(ip: string): string {
  return ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
}

/** ActionDispatch::RemoteIp (X-Forwarded-For from trusted proxies), then Rack::Attack's /64 for IPv6. */
function throttleableIp(req: IncomingMessage): string {
  const remote = normalizeIp(req.socket.remoteAddress ?? "127.0.0.1");
  let ip = remote;
  const xff = req.headers["x-forwarded-for"];
  if (typeof xff === "string" && isTrustedProxy(remote)) {
    const chain = xff
      .split(",")
      .map((s) => normalizeIp(s.trim()))
      .filter(Boolean);
    ip = [...chain].reverse().find((c) => !isTrustedProxy(c)) ?? chain[0] ?? remote;
  }
  if (!ip.includes(":")) return ip;
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::`;
}

/** Rack::Attack::Request#paging_request?: page, min_id, max_id or since_id present (non-blank). */
function isPagingRequest(query: URLSearchParams): boolean {
  for (const [key, value] of query) {
    const name = key.replace(/\[.*$/, "");
    if (["page", "min_id", "max_id", "since_id"].includes(name) && value.trim() !== "") return true;
  }
  return false;
}

/** The reply to an injected status fault: Mastodon's 500 page, nginx's for other 5xx, else JSON. */
function faultReply(fault: StatusFault): Reply {
  const body =
    fault.body ??
    (fault.status === 500
      ? MASTODON_500_HTML
      : fault.status >= 500
        ? nginxErrorPage(fault.status)
        : JSON.stringify({
            error: fault.status === 429 ? "Too many requests" : STATUS_CODES[fault.status],
          }));
  const contentType =
    fault.contentType ??
    (/^\s*[[{]/.test(body)
      ? JSON_TYPE
      : fault.status === 500
        ? "text/html; charset=utf-8"
        : "text/html");
  return { status: fault.status, body, contentType, headers: fault.headers ?? {}, api: false };
}

interface Answer {
  req: IncomingMessage;
  method: string;
  path: string;
  query: URLSearchParams;
  body: Buffer;
  token: TokenRow | null;
}

/** Rack::Attack, then the routes, then the headers every Rails response carries. */
async function answer(ctx: MastodonContext, a: Answer): Promise<Reply> {
  const { req, method, path, query, token } = a;
  // Rack::Attack runs before routing: unknown routes and wrong methods count too.
  const nowMs = ctx.clock();
  const outcome = ctx.rack.check(
    {
      api: path.startsWith("/api"),
      paging: isPagingRequest(query),
      userId: token?.accountId ?? null,
      tokenId: token ? String(token.id) : null,
      ip: throttleableIp(req),
      appRegistration: method === "POST" && path === "/api/v1/apps",
    },
    nowMs,
  );
  if (outcome?.matched) {
    const { "Content-Type": contentType = "application/json", ...headers } = throttledHeaders(
      outcome.matched,
      nowMs,
    );
    return {
      status: 429,
      body: JSON.stringify({ error: "Too many requests" }),
      contentType,
      headers,
      api: false,
    };
  }

  let reply: Reply;
  try {
    const params = await readParams(req, a.body, query);
    const host = req.headers.host ?? `127.0.0.1:${ctx.port}`;
    reply = await route(
      ctx,
      { req, path, query, params, token, host, throttle: outcome, nowMs },
      method,
    );
  } catch (err) {
    reply =
      err instanceof BadRequestError
        ? plainJson(400, { status: 400, error: "Bad Request" })
        : internalError(req);
  }
  const extra: Record<string, string> = {
    "Cache-Control": "private, no-store",
    "X-Request-Id": randomUUID(),
  };
  if (reply.api) Object.assign(extra, successHeaders(outcome, nowMs));
  return { ...reply, headers: { ...extra, ...reply.headers } };
}

export function mastodonStages(
  ctx: MastodonContext,
  control: ControlRoutes,
): PipelineStages<RequestLogEntry, { token: TokenRow | null }> {
  return {
    // Journey normalizes repeated and trailing slashes.
    path: (pathname) => pathname.replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1"),
    beforeEach: () => settle(ctx),
    control,
    open({ req, rawUrl, query, started }) {
      const presented = tokenString(req, query);
      const token = presented ? (ctx.store.tokens.get(presented) ?? null) : null;
      const entry: RequestLogEntry = {
        method: req.method ?? "GET",
        path: rawUrl,
        status: 0,
        tokenId: token ? String(token.id) : null,
        time: started,
        durationMs: 0,
      };
      return { entry, state: { token } };
    },
    readsBody: (method) => method !== "GET",
    faultReply,
    answer: ({ req, method, path, query }, body, { token }) =>
      answer(ctx, { req, method, path, query, body, token }),
    crash: (req) => internalError(req),
  };
}
