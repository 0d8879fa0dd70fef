/**
 * The Telegram stand-in over HTTP, as the Bot API server answers: /bot<token>/<method> (method
 * names case-insensitive, /test/ environment paths too) with the token checked, the request
 * decoded, the call logged, then latency and injected faults (per method), then the method;
 * /file/bot<token>/<path> serves what getFile handed out; /control/… goes to the control side.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { BEFORE_ANSWER, Chaos, type ChaosKind, type ChaosOptions } from "./chaos.js";
import { BodyTooLarge, FaultQueue, readBody, sendSpoiled, sleep } from "./http-pipeline.js";
import { deleteMyCommands, getMyCommands, setMyCommands } from "./telegram-commands.js";
import { ApiError, faultError } from "./telegram-errors.js";
import { getFile, sendDocument } from "./telegram-files.js";
import {
  BadBody,
  type DecodedRequest,
  decodeRequest,
  MAX_UPLOAD,
  sendError,
  sendJson,
  type UploadedFile,
} from "./telegram-http-util.js";
import {
  answerCallbackQuery,
  deleteMessage,
  editMessageReplyMarkup,
  editMessageText,
  sendChatAction,
  sendMessage,
} from "./telegram-messages.js";
import { botUser } from "./telegram-objects.js";
import type { TelegramState } from "./telegram-state.js";
import type { CallRecord, FaultSpec } from "./telegram-types.js";

/** One Bot API call as a method sees it. */
interface Call {
  args: Record<string, string>;
  files: Record<string, UploadedFile>;
  /** Aborted when the client goes away before the answer (ends a long poll). */
  signal: AbortSignal;
}

type Handler = (call: Call) => unknown;

function methodTable(state: TelegramState): Record<string, [string, Handler]> {
  const table: Record<string, Handler> = {
    getMe: () => ({
      ...botUser(state),
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    }),
    getUpdates: (c) => state.updates.getUpdates(c.args, c.signal),
    setWebhook: (c) => state.updates.setWebhook(c.args),
    deleteWebhook: (c) => state.updates.deleteWebhook(c.args),
    getWebhookInfo: () => state.updates.webhookInfo(),
    sendMessage: (c) => sendMessage(state, c.args),
    editMessageText: (c) => editMessageText(state, c.args),
    editMessageReplyMarkup: (c) => editMessageReplyMarkup(state, c.args),
    sendDocument: (c) => sendDocument(state, c.args, c.files),
    getFile: (c) => getFile(state, c.args),
    deleteMessage: (c) => deleteMessage(state, c.args),
    answerCallbackQuery: (c) => answerCallbackQuery(state, c.args),
    setMyCommands: (c) => setMyCommands(state, c.args),
    getMyCommands: (c) => getMyCommands(state, c.args),
    deleteMyCommands: (c) => deleteMyCommands(state, c.args),
    sendChatAction: (c) => sendChatAction(state, c.args),
  };
  // The Bot API matches method names case-insensitively.
  return Object.fromEntries(
    Object.entries(table).map(([name, h]) => [name.toLowerCase(), [name, h]]),
  );
}

export class BotApiServer {
  /** Every call that got past the token check, in order. */
  readonly calls: CallRecord[] = [];
  /** Faults by lower-cased method name (the Bot API matches names case-insensitively). */
  private readonly faults = new FaultQueue<{ method: string; fault: FaultSpec }>();
  private latencyMs = 0;
  private chaos: Chaos | null = null;
  private readonly methods: Record<string, [string, Handler]>;

  constructor(
    private readonly state: TelegramState,
    /** The /control/… endpoints. */
    private readonly control: (
      req: IncomingMessage,
      res: ServerResponse,
      url: URL,
    ) => Promise<void>,
  ) {
    this.methods = methodTable(state);
  }

  failNext(method: string, fault: FaultSpec): void {
    this.faults.add(fault.times ?? 1, { method: method.toLowerCase(), fault: { ...fault } });
  }

  clearFaults(): void {
    this.faults.clear();
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Random faults per call at a rate (chaos.ts); the path they match is "/" + the method. */
  setChaos(options: ChaosOptions | null): void {
    this.chaos = options === null ? null : new Chaos(options);
  }

  get chaosInjected(): Readonly<Record<ChaosKind, number>> | null {
    return this.chaos ? { ...this.chaos.injected } : null;
  }

  async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    if (path.startsWith("/control/")) return this.control(req, res, url);
    if (path.startsWith("/file/bot")) return this.download(req, res, path);

    let body: Buffer;
    try {
      body = await readBody(req, MAX_UPLOAD + 1024 * 1024);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        return sendJson(res, 413, {
          ok: false,
          error_code: 413,
          description: "Request Entity Too Large",
        });
      }
      throw e;
    }
    const m = /^\/bot([^/]*)\/(?:test\/)?([^/]*)$/.exec(path);
    if (!m) return sendError(res, new ApiError(404, "Not Found"));
    const token = m[1] as string;
    if (!/^\d+:[A-Za-z0-9_-]+$/.test(token)) return sendError(res, new ApiError(404, "Not Found"));
    if (token.startsWith("0")) {
      return sendError(res, new ApiError(401, "Unauthorized: invalid token specified"));
    }
    if (token !== this.state.token) return sendError(res, new ApiError(401, "Unauthorized"));
    const entry = this.methods[(m[2] as string).toLowerCase()];
    if (!entry) return sendError(res, new ApiError(404, "Not Found"));
    const [method, handler] = entry;

    let decoded: DecodedRequest;
    try {
      decoded = decodeRequest(req, url, body);
    } catch (e) {
      if (e instanceof BadBody) return sendError(res, new ApiError(400, e.message));
      throw e;
    }
    const record: CallRecord = {
      method,
      args: decoded.args,
      files: Object.fromEntries(Object.entries(decoded.files).map(([k, f]) => [k, f.filename])),
      status: 0,
      ok: false,
      at: Date.now(),
    };
    this.calls.push(record);

    if (this.latencyMs > 0) await sleep(this.latencyMs);

    const fault = this.faults.take((f) => f.method === method.toLowerCase())?.fault;
    if (fault) {
      record.status = fault.status;
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.rawBody !== undefined) {
        res.writeHead(fault.status, { "content-type": "text/html" });
        res.end(fault.rawBody);
        return;
      }
      const err = faultError(fault);
      record.description = err.description;
      return sendError(res, err);
    }

    const chaos = this.chaos;
    const kind = chaos?.pick(`/${method}`) ?? null;
    if (chaos && kind && BEFORE_ANSWER.has(kind)) {
      if (kind === "status5xx") {
        // Telegram's nginx answers its own HTML page for a 502/504 (core.telegram.org/api/errors: 5xx are transient).
        record.status = chaos.status();
        res.writeHead(record.status, { "content-type": "text/html" });
        res.end(`<html><body><h1>${record.status}</h1></body></html>`);
      } else if (kind === "reset") req.socket.destroy();
      else setTimeout(() => req.socket.destroy(), chaos.hangMs).unref();
      return;
    }

    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const result = await handler({ ...decoded, signal: abort.signal });
      record.status = 200;
      record.ok = true;
      const payload: Record<string, unknown> = { ok: true, result };
      if (method === "deleteWebhook") payload.description = "Webhook is already deleted";
      if (method === "setWebhook") payload.description = "Webhook was set";
      if (chaos && kind === "slow") await sleep(chaos.slowMs);
      if (res.destroyed) return;
      if (kind) {
        const body = JSON.stringify(payload);
        sendSpoiled(res, { status: 200, body, contentType: "application/json" }, kind);
      } else sendJson(res, 200, payload);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      record.status = e.code;
      record.description = e.description;
      if (!res.destroyed) sendError(res, e);
    }
  }

  private async download(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    for await (const _ of req) {
      // drain
    }
    const m = /^\/file\/bot([^/]+)\/(.+)$/.exec(path);
    const file =
      m && m[1] === this.state.token
        ? this.state.filesByPath.get(decodeURIComponent(m[2] as string))
        : undefined;
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (!file || req.method !== "GET") return sendError(res, new ApiError(404, "Not Found"));
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": file.bytes.length,
    });
    res.end(file.bytes);
  }
}
