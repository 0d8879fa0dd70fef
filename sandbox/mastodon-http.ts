/**
 * HTTP plumbing shared by the Mastodon stand-in's modules: replies, Rails' parameter
 * parsing, the `paginate_by_max_id` scope and the Link header Api::Pagination writes.
 */

import type { IncomingMessage } from "node:http";
import { JSON_TYPE, type Reply as PipelineReply } from "./http-pipeline.js";
import { MASTODON_404_HTML, MASTODON_500_HTML } from "./mastodon-pages.js";
import { rubyToI } from "./mastodon-rows.js";

export interface Reply extends PipelineReply {
  /** Rendered by an Api:: controller: gets the X-RateLimit-* headers. */
  api: boolean;
}

export { JSON_TYPE };
export const HTML_TYPE = "text/html; charset=utf-8";

export function apiJson(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(body), contentType: JSON_TYPE, headers, api: true };
}

/** A JSON answer from a controller outside Api:: (Doorkeeper's, well-known): no rate-limit headers. */
export function plainJson(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(body), contentType: JSON_TYPE, headers, api: false };
}

export function html(status: number, body: string, headers?: Record<string, string>): Reply {
  return { status, body, contentType: HTML_TYPE, headers, api: false };
}

/** Rails' redirect_to: 302, Location, an empty HTML body. */
export function redirect(location: string, headers?: Record<string, string>): Reply {
  return {
    status: 302,
    body: "",
    contentType: HTML_TYPE,
    headers: { ...headers, Location: location },
    api: false,
  };
}

/** Rails picks the format for respond_to { any; json } from the Accept header. */
export function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  if (!accept) return false;
  // BROWSER_LIKE_ACCEPTS: a list that contains */* is treated as "no preference" → html.
  if (/,\s*\*\/\*|\*\/\*\s*,/.test(accept)) return false;
  const types = accept
    .split(",")
    .map((part, i) => {
      const [type = "", ...params] = part.split(";").map((s) => s.trim());
      const q = params.find((p) => p.startsWith("q="));
      return { type: type.toLowerCase(), q: q ? Number(q.slice(2)) : 1, i };
    })
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { type } of types) {
    if (type === "*/*") return false;
    if (type === "application/json" || type === "text/x-json" || type === "application/jsonrequest")
      return true;
  }
  return false;
}

/** ActiveRecord::RecordNotFound as Api::BaseController renders it. */
export function recordNotFound(): Reply {
  return apiJson(404, { error: "Record not found" });
}

/** ApplicationController#raise_not_found (the `*unmatched_route` catch-all). */
export function routingError(req: IncomingMessage): Reply {
  if (wantsJson(req)) return plainJson(404, { error: "Not Found" });
  return html(404, MASTODON_404_HTML);
}

/** An exception nobody rescues: ActionDispatch::PublicExceptions. */
export function internalError(req: IncomingMessage): Reply {
  if (wantsJson(req)) return plainJson(500, { status: 500, error: "Internal Server Error" });
  return html(500, MASTODON_500_HTML);
}

/** CGI.escape, as Hash#to_query writes query values. */
export function cgiEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/%20/g, "+")
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%7E/g, "~");
}

/** Hash#to_query: keys sorted, values CGI-escaped. */
export function toQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${cgiEscape(k)}=${cgiEscape(params[k]!)}`)
    .join("&");
}

// ---- pagination -----------------------------------------------------------------------

/** A cursor param as a bigint id column casts it: `.present?`, then Ruby's to_i. */
export function bigCursor(value: string | null): bigint | null {
  if (value === null || value.trim() === "") return null;
  return rubyToI(value);
}

/**
 * `limit_param(default)`: absent → default; else `[params[:limit].to_i.abs, default * 2].min`.
 * An empty `limit=` is present in Ruby, so it gives 0.
 */
export function limitParam(raw: string | null, defaultLimit: number): number {
  if (raw === null) return defaultLimit;
  const n = rubyToI(raw);
  const abs = n < 0n ? -n : n;
  return abs > BigInt(defaultLimit * 2) ? defaultLimit * 2 : Number(abs);
}

/** `paginate_by_max_id(limit, max_id, since_id)` over rows sorted by ascending id: newest first. */
export function paginateByMaxId<T>(
  rows: readonly T[],
  idOf: (row: T) => bigint,
  limit: number,
  maxId: bigint | null,
  sinceId: bigint | null,
): T[] {
  const firstIndexWhere = (pred: (r: T) => boolean): number => {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(rows[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const end = maxId === null ? rows.length : firstIndexWhere((r) => idOf(r) >= maxId);
  const start = sinceId === null ? 0 : firstIndexWhere((r) => idOf(r) > sinceId);
  const out: T[] = [];
  for (let i = end - 1; i >= start && out.length < limit; i--) out.push(rows[i]!);
  return out;
}

/** `paginate_by_min_id(limit, min_id, max_id).reverse`: the oldest `limit` above min_id, newest first. */
export function paginateByMinId<T>(
  rows: readonly T[],
  idOf: (row: T) => bigint,
  limit: number,
  minId: bigint,
  maxId: bigint | null,
): T[] {
  const out: T[] = [];
  for (const r of rows) {
    const id = idOf(r);
    if (id <= minId) continue;
    if (maxId !== null && id >= maxId) break;
    out.push(r);
    if (out.length === limit) break;
  }
  return out.reverse();
}

/**
 * Api::Pagination's Link header: `next` (max_id) only when the page is full, `prev`
 * (since_id or min_id) when it isn't empty; `limit` echoed as given. Returns null (no
 * header) when neither applies. Throws when a full page is empty (limit=0): Mastodon calls
 * `.id` on nil there and answers 500.
 */
export function linkHeader(opts: {
  base: string;
  limitRaw: string | null;
  limit: number;
  size: number;
  firstId: string | undefined;
  lastId: string | undefined;
  prevParam?: "since_id" | "min_id";
}): string | null {
  const links: string[] = [];
  const withLimit = (core: Record<string, string>): string =>
    `${opts.base}?${toQuery(opts.limitRaw === null ? core : { limit: opts.limitRaw, ...core })}`;
  if (opts.size === opts.limit) {
    if (opts.lastId === undefined) throw new Error("undefined method `id' for nil");
    links.push(`<${withLimit({ max_id: opts.lastId })}>; rel="next"`);
  }
  if (opts.firstId !== undefined) {
    links.push(`<${withLimit({ [opts.prevParam ?? "since_id"]: opts.firstId })}>; rel="prev"`);
  }
  return links.length > 0 ? links.join(", ") : null;
}

// ---- parameters ---------------------------------------------------------------------

export type Params = Record<string, unknown>;

export class BadRequestError extends Error {}

/** Rack's nested parameter names: `a[]` → array, `a[b]` → hash. */
function assignParam(target: Params, key: string, value: string): void {
  const m = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(key);
  if (!m) {
    target[key] = value;
    return;
  }
  const head = m[1]!;
  const parts = [...(m[2] ?? "").matchAll(/\[([^\]]*)\]/g)].map((x) => x[1]!);
  if (parts.length === 0) {
    target[head] = value;
    return;
  }
  let node: Params = target;
  let name = head;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (part === "") {
      const arr = Array.isArray(node[name]) ? (node[name] as unknown[]) : [];
      node[name] = arr;
      if (last) arr.push(value);
      return;
    }
    const child =
      node[name] !== null && typeof node[name] === "object" && !Array.isArray(node[name])
        ? (node[name] as Params)
        : {};
    node[name] = child;
    if (last) {
      child[part] = value;
      return;
    }
    node = child;
    name = part;
  }
}

export function paramsFromSearch(search: URLSearchParams): Params {
  const out: Params = {};
  for (const [k, v] of search) assignParam(out, k, v);
  return out;
}

/**
 * request.parameters: query parameters merged with the body's (form, multipart or JSON),
 * the body winning. Malformed JSON → BadRequestError (ActionDispatch's ParseError).
 */
export async function readParams(
  req: IncomingMessage,
  body: Buffer,
  search: URLSearchParams,
): Promise<Params> {
  const params = paramsFromSearch(search);
  if (body.length === 0) return params;
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  if (/^application\/(.+\+)?json/.test(type)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw new BadRequestError("Error occurred while parsing request parameters");
    }
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      Object.assign(params, parsed);
    } else {
      params._json = parsed;
    }
    return params;
  }
  if (type.startsWith("application/x-www-form-urlencoded")) {
    for (const [k, v] of new URLSearchParams(body.toString("utf8"))) assignParam(params, k, v);
    return params;
  }
  if (type.startsWith("multipart/form-data")) {
    let form: FormData;
    try {
      form = await new Request("http://sandbox.invalid/", {
        method: "POST",
        headers: { "content-type": req.headers["content-type"]! },
        body,
      }).formData();
    } catch {
      throw new BadRequestError("Error occurred while parsing request parameters");
    }
    for (const [k, v] of form) if (typeof v === "string") assignParam(params, k, v);
    return params;
  }
  return params;
}

/** `params[:key]` where a scalar is expected: strings as they are, numbers and booleans as JSON would give them to_s. */
export function scalarParam(params: Params, key: string): string | undefined {
  const v = params[key];
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

/** Object#blank? for a parameter. */
export function blank(value: string | undefined | null): boolean {
  return value === undefined || value === null || value.trim() === "";
}
