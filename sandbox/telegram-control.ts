/**
 * The control side of the Telegram stand-in: the same driving and observing API as the
 * in-process handle, served under /control/<action> as JSON (file bytes as base64) so a
 * sandbox started as a separate process (telegram-server.ts) can be driven over HTTP
 * (telegram-remote.ts). Unknown actions get 404, bad input 400.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { ChaosOptionsSchema } from "./chaos.js";
import { readBody } from "./http-pipeline.js";
import { MAX_UPLOAD, sendJson } from "./telegram-http-util.js";
import type {
  ChatView,
  DocumentView,
  MessageView,
  TelegramSandbox,
  WireChat,
  WireDocument,
  WireMessage,
} from "./telegram-types.js";

class ControlNotFound extends Error {}

const wireDoc = ({ bytes, ...rest }: DocumentView): WireDocument => ({
  ...rest,
  bytesBase64: bytes.toString("base64"),
});

export function wireMessage(m: MessageView): WireMessage {
  const { document, photo, ...rest } = m;
  return {
    ...rest,
    ...(document ? { document: wireDoc(document) } : {}),
    ...(photo ? { photo: photo.map(wireDoc) } : {}),
  };
}

function wireChat(c: ChatView): WireChat {
  return {
    ...c,
    messages: c.messages.map(wireMessage),
    bot: c.bot.map(wireMessage),
    user: c.user.map(wireMessage),
  };
}

/** The /control/… handler: a JSON body (or query) in, {ok, result} or {ok: false, error} out. */
export function telegramControl(
  sandbox: TelegramSandbox,
): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  return async (req, res, url) => {
    const body = await readBody(req, MAX_UPLOAD * 2);
    let input: Record<string, unknown> = Object.fromEntries(url.searchParams);
    if (body.length > 0) {
      try {
        input = { ...input, ...(JSON.parse(body.toString("utf8")) as Record<string, unknown>) };
      } catch {
        return sendJson(res, 400, { ok: false, error: "body must be JSON" });
      }
    }
    const action = url.pathname.slice("/control/".length);
    try {
      const result = await controlAction(sandbox, action, input);
      sendJson(res, 200, { ok: true, result: result ?? null });
    } catch (e) {
      const status = e instanceof ControlNotFound ? 404 : 400;
      const message =
        e instanceof z.ZodError ? z.prettifyError(e) : e instanceof Error ? e.message : String(e);
      sendJson(res, status, { ok: false, error: message });
    }
  };
}

async function controlAction(
  sandbox: TelegramSandbox,
  action: string,
  input: Record<string, unknown>,
): Promise<unknown> {
  const userId = z.coerce.number().int().positive();
  switch (action) {
    case "health":
      return { url: sandbox.url, token: sandbox.token };
    case "sendText": {
      const p = z.object({ userId, text: z.string() }).parse(input);
      return sandbox.sendText(p.userId, p.text);
    }
    case "sendDocument": {
      const p = z
        .object({
          userId,
          name: z.string(),
          bytesBase64: z.string(),
          mimeType: z.string().optional(),
          caption: z.string().optional(),
          size: z.number().int().optional(),
        })
        .parse(input);
      return sandbox.sendDocument(p.userId, {
        name: p.name,
        bytes: Buffer.from(p.bytesBase64, "base64"),
        ...(p.mimeType !== undefined ? { mimeType: p.mimeType } : {}),
        ...(p.caption !== undefined ? { caption: p.caption } : {}),
        ...(p.size !== undefined ? { size: p.size } : {}),
      });
    }
    case "sendPhoto": {
      const p = z
        .object({ userId, caption: z.string().optional(), bytesBase64: z.string().optional() })
        .parse(input);
      return sandbox.sendPhoto(p.userId, {
        ...(p.caption !== undefined ? { caption: p.caption } : {}),
        ...(p.bytesBase64 !== undefined ? { bytes: Buffer.from(p.bytesBase64, "base64") } : {}),
      });
    }
    case "pressButton": {
      const p = z
        .object({ userId, messageId: z.coerce.number().int(), data: z.string() })
        .parse(input);
      return { callbackQueryId: sandbox.pressButton(p.userId, p.messageId, p.data) };
    }
    case "setUser": {
      const p = z
        .object({
          userId,
          firstName: z.string().optional(),
          lastName: z.string().optional(),
          username: z.string().optional(),
          languageCode: z.string().optional(),
        })
        .parse(input);
      const { userId: id, ...profile } = p;
      sandbox.setUser(id, profile);
      return true;
    }
    case "block":
    case "unblock": {
      const p = z.object({ userId }).parse(input);
      if (action === "block") sandbox.block(p.userId);
      else sandbox.unblock(p.userId);
      return true;
    }
    case "chat":
      return wireChat(sandbox.chat(z.object({ userId }).parse(input).userId));
    case "waitFor": {
      const p = z
        .object({
          userId,
          timeoutMs: z.coerce.number().int().positive().optional(),
          textIncludes: z.string().optional(),
          textMatches: z.string().optional(),
          afterMessageId: z.coerce.number().int().optional(),
          hasDocument: z.boolean().optional(),
          hasKeyboard: z.boolean().optional(),
          includeDeleted: z.boolean().optional(),
        })
        .parse(input);
      const re = p.textMatches !== undefined ? new RegExp(p.textMatches) : undefined;
      const found = await sandbox.waitFor(
        p.userId,
        (m) =>
          (p.includeDeleted || !m.deleted) &&
          (p.afterMessageId === undefined || m.messageId > p.afterMessageId) &&
          (p.textIncludes === undefined || (m.text ?? "").includes(p.textIncludes)) &&
          (re === undefined || re.test(m.text ?? "")) &&
          (p.hasDocument === undefined || (m.document !== undefined) === p.hasDocument) &&
          (p.hasKeyboard === undefined || (m.replyMarkup !== undefined) === p.hasKeyboard),
        p.timeoutMs,
      );
      return wireMessage(found);
    }
    case "commands": {
      const p = z
        .object({
          scope: z.record(z.string(), z.unknown()).optional(),
          languageCode: z.string().optional(),
        })
        .parse(input);
      return sandbox.commands({
        ...(p.scope ? { scope: p.scope } : {}),
        ...(p.languageCode ? { languageCode: p.languageCode } : {}),
      });
    }
    case "calls": {
      const p = z.object({ method: z.string().optional() }).parse(input);
      return p.method ? sandbox.callsTo(p.method) : sandbox.calls();
    }
    case "callbackAnswer":
      return sandbox.callbackAnswer(z.object({ id: z.string() }).parse(input).id) ?? null;
    case "pendingUpdates":
      return sandbox.pendingUpdates();
    case "failNext": {
      const p = z
        .object({
          method: z.string(),
          status: z.number().int(),
          description: z.string().optional(),
          retryAfter: z.number().int().optional(),
          times: z.number().int().positive().optional(),
          rawBody: z.string().optional(),
          drop: z.boolean().optional(),
        })
        .parse(input);
      const { method, ...fault } = p;
      sandbox.failNext(method, fault);
      return true;
    }
    case "clearFaults":
      sandbox.clearFaults();
      return true;
    case "revokeToken":
      return sandbox.revokeToken();
    case "chaos":
      sandbox.setChaos(z.object({ options: ChaosOptionsSchema.nullable() }).parse(input).options);
      return true;
    case "chaosInjected":
      return sandbox.chaosInjected;
    case "latency":
      sandbox.setLatency(z.object({ ms: z.coerce.number().int().min(0) }).parse(input).ms);
      return true;
    default:
      throw new ControlNotFound(`unknown control action ${action}`);
  }
}
