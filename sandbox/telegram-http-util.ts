// Request decoding and JSON answers for the Telegram sandbox: how the Bot API server turns a
// request into string arguments and uploaded files. Query string, JSON body (top-level strings
// stay strings, other values keep their JSON text, like the real server), urlencoded and
// multipart/form-data bodies (including grammY's unquoted `filename=` and attach:// parts) all
// end up in the same shape.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApiError } from "./telegram-errors.js";

export interface UploadedFile {
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface DecodedRequest {
  args: Record<string, string>;
  files: Record<string, UploadedFile>;
}

export class BadBody extends Error {}

/** core.telegram.org/bots/api: bots can upload files of up to 50 MB. */
export const MAX_UPLOAD = 50 * 1024 * 1024;

function jsonArgs(body: Buffer, into: Record<string, string>): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new BadBody("Bad Request: can't parse JSON object");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new BadBody("Bad Request: JSON object expected");
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (value === null || value === undefined) continue;
    into[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
}

function headerParam(header: string, name: string): string | undefined {
  // name="quoted" | name=unquoted-to-end-of-line-or-semicolon (grammY writes filename unquoted)
  const re = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, "i");
  const m = re.exec(header);
  if (!m) return undefined;
  if (m[1] !== undefined) return m[1].replace(/\\(.)/g, "$1");
  return (m[2] ?? "").trim();
}

function multipart(body: Buffer, boundary: string, out: DecodedRequest): void {
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new BadBody("Bad Request: can't parse multipart/form-data body");
  while (true) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return; // closing delimiter
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const next = body.indexOf(delimiter, pos);
    if (next < 0) throw new BadBody("Bad Request: can't parse multipart/form-data body");
    let part = body.subarray(pos, next);
    if (part.length >= 2 && part[part.length - 2] === 0x0d && part[part.length - 1] === 0x0a) {
      part = part.subarray(0, part.length - 2);
    }
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd < 0) throw new BadBody("Bad Request: can't parse multipart/form-data body");
    const headers = part.subarray(0, headerEnd).toString("utf8").split("\r\n");
    const content = part.subarray(headerEnd + 4);
    let disposition = "";
    let contentType = "application/octet-stream";
    for (const line of headers) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === "content-disposition") disposition = value;
      if (key === "content-type") contentType = value;
    }
    const name = headerParam(disposition, "name");
    if (name !== undefined) {
      const filename = headerParam(disposition, "filename");
      if (filename !== undefined) {
        out.files[name] = { filename, contentType, bytes: Buffer.from(content) };
      } else {
        out.args[name] = content.toString("utf8");
      }
    }
    pos = next;
  }
}

/** Query string + body, decoded as the Bot API does. */
export function decodeRequest(req: IncomingMessage, url: URL, body: Buffer): DecodedRequest {
  const out: DecodedRequest = { args: {}, files: {} };
  for (const [key, value] of url.searchParams) out.args[key] = value;
  if (body.length === 0) return out;
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  if (type.startsWith("application/json")) {
    jsonArgs(body, out.args);
  } else if (type.startsWith("application/x-www-form-urlencoded")) {
    for (const [key, value] of new URLSearchParams(body.toString("utf8"))) out.args[key] = value;
  } else if (type.startsWith("multipart/form-data")) {
    const boundary = headerParam(req.headers["content-type"] ?? "", "boundary");
    if (!boundary) throw new BadBody("Bad Request: can't parse multipart/form-data body");
    multipart(body, boundary, out);
  }
  return out;
}

/** An error answer of the Bot API: {ok: false, error_code, description, parameters?}. */
export function sendError(res: ServerResponse, e: ApiError): void {
  sendJson(res, e.code, {
    ok: false,
    error_code: e.code,
    description: e.description,
    ...(e.retryAfter !== undefined ? { parameters: { retry_after: e.retryAfter } } : {}),
  });
}

export function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}
