/**
 * A tiny structured logger. It takes a message and plain fields; callers pass
 * ids and counts, never tokens, and `redact` scrubs anything that looks like one
 * in case an error message from a library carries it. Every line also carries the
 * ids of what it happens in (`logContext`: a web request, a chat update, a job),
 * carried through async calls, so one request's or job's lines can be found among
 * those of many processes.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

const context = new AsyncLocalStorage<Record<string, string | number>>();

/** Runs `fn` with these ids on every line it logs (added to those of the context around it). */
export function logContext<T>(ids: Record<string, string | number>, fn: () => T): T {
  return context.run({ ...context.getStore(), ...ids }, fn);
}

/** A short id for a request or an update that has none of its own. */
export function newRequestId(): string {
  return randomUUID().slice(0, 8);
}

type Level = "debug" | "info" | "warn" | "error" | "silent";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

let threshold: Level = "info";
export function setLogLevel(level: Level): void {
  threshold = level;
}

const SECRETISH = [
  /(bot)\d+:[\w-]{20,}/gi, // Telegram bot token inside an API URL
  /\b\d{6,}:[\w-]{30,}\b/g, // a bare Telegram bot token
  /(Bearer\s+)[\w.~+/-]+=*/gi,
  /((?:access_token|token|code|client_secret|code_verifier)=)[^&\s"]+/gi,
  /\bs1\.[\w-]+\.[\w-]+\.[\w-]+/g, // a sealed value
];

export function redact(text: string): string {
  let out = text;
  for (const re of SECRETISH) {
    out = out.replace(re, (_m, keep?: string) =>
      typeof keep === "string" && keep.length < 40 ? `${keep}[redacted]` : "[redacted]",
    );
  }
  return out;
}

function write(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (order[level] < order[threshold]) return;
  const ids = context.getStore();
  const line = JSON.stringify(
    { t: new Date().toISOString(), level, msg, ...ids, ...fields },
    (_k, v) => (v instanceof Error ? redact(`${v.name}: ${v.message}`) : v),
  );
  process.stderr.write(`${redact(line)}\n`);
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
};
