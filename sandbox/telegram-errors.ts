/**
 * How the Telegram stand-in refuses things the way the Bot API does: its error answers (status,
 * "Bad Request: …" descriptions made from tdlib's texts), tdlib's JSON field errors from zod
 * schemas, tdlib's lenient number and boolean parsing, and the errors injected faults give.
 */

import { z } from "zod";
import type { FaultSpec } from "./telegram-types.js";

/** An error answer of the Bot API. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly retryAfter?: number,
  ) {
    super(description);
  }
}

/**
 * A tdlib-level error text, turned into the Bot API description the way the Bot API server does
 * (fail_query_with_error): "Bad Request: " + the text with its first letter lowercased, unless
 * it is an UPPER_CASE server error code.
 */
export function bad(message: string): ApiError {
  const keep = message.length >= 2 && (message[1] === "_" || /[A-Z]/.test(message[1] as string));
  const text = keep ? message : (message[0] as string).toLowerCase() + message.slice(1);
  return new ApiError(400, `Bad Request: ${text}`);
}

export const blocked = () => new ApiError(403, "Forbidden: bot was blocked by the user");
export const notModified = () =>
  new ApiError(
    400,
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
  );

/** tdlib's JSON field errors, produced from a zod schema. */
export class FieldError extends Error {}

const TYPE_NAMES: Record<string, string> = {
  string: "String",
  boolean: "Boolean",
  number: "Number",
  int: "Number",
  object: "Object",
  array: "Array",
};

export function tdParse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0] as z.core.$ZodIssue;
  const key = issue.path[issue.path.length - 1];
  if (issue.code === "invalid_type" && typeof key === "string") {
    let actual: unknown = value;
    for (const p of issue.path) actual = (actual as Record<PropertyKey, unknown>)?.[p];
    if (actual === undefined) throw new FieldError(`Can't find field "${key}"`);
    throw new FieldError(
      `Field "${key}" must be of type ${TYPE_NAMES[issue.expected] ?? issue.expected}`,
    );
  }
  throw new FieldError(issue.message);
}

// tdlib accepts numbers where it wants strings.
export const tdString = z.preprocess((v) => (typeof v === "number" ? String(v) : v), z.string());
export const tdInt = z.preprocess(
  (v) => (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v),
  z.number().int(),
);

export function parseJsonArg(raw: string, errorText: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw bad(errorText);
  }
}

/** td::to_integer: leading integer or 0, never an error. */
export function toInt(raw: string | undefined, fallback = 0): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const m = /^\s*([+-]?\d+)/.exec(raw);
  return m ? Number(m[1]) : 0;
}

export const toBool = (raw: string | undefined) =>
  raw !== undefined && ["true", "yes", "1"].includes(raw.trim().toLowerCase());

/** The Bot API error an injected fault answers with. */
export function faultError(f: FaultSpec): ApiError {
  const defaults: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
  };
  const description =
    f.description ??
    (f.status === 429
      ? `Too Many Requests: retry after ${f.retryAfter ?? 1}`
      : (defaults[f.status] ?? `Error ${f.status}`));
  const retryAfter = f.retryAfter ?? (f.status === 429 ? 1 : undefined);
  return new ApiError(f.status, description, retryAfter);
}
