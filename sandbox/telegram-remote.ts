/**
 * Drives a Telegram sandbox running in another process (telegram-server.ts) through its
 * /control/… endpoints. Same operations as the in-process TelegramSandbox, all async.
 */
import type { ChaosKind, ChaosOptions } from "./chaos.js";
import type {
  BotCommand,
  CallbackAnswer,
  CallRecord,
  ChatView,
  DocumentView,
  FaultSpec,
  MessageView,
  UserProfile,
  WireChat,
  WireDocument,
  WireMessage,
} from "./telegram-types.js";

export interface RemoteTelegramSandbox {
  readonly url: string;
  readonly token: string;
  sendText(userId: number, text: string): Promise<Record<string, unknown>>;
  sendDocument(
    userId: number,
    doc: { name: string; bytes: Uint8Array; mimeType?: string; caption?: string; size?: number },
  ): Promise<Record<string, unknown>>;
  sendPhoto(
    userId: number,
    opts?: { bytes?: Uint8Array; caption?: string },
  ): Promise<Record<string, unknown>>;
  pressButton(userId: number, messageId: number, data: string): Promise<string>;
  setUser(userId: number, profile: UserProfile): Promise<void>;
  block(userId: number): Promise<void>;
  unblock(userId: number): Promise<void>;
  chat(userId: number): Promise<ChatView>;
  /** Polls the chat and applies the predicate here, so any predicate works. */
  waitFor(
    userId: number,
    predicate: (m: MessageView) => boolean,
    timeoutMs?: number,
  ): Promise<MessageView>;
  commands(opts?: {
    scope?: Record<string, unknown>;
    languageCode?: string;
  }): Promise<BotCommand[]>;
  callsTo(method: string): Promise<CallRecord[]>;
  calls(): Promise<CallRecord[]>;
  callbackAnswer(queryId: string): Promise<CallbackAnswer | undefined>;
  failNext(method: string, fault: FaultSpec): Promise<void>;
  clearFaults(): Promise<void>;
  revokeToken(): Promise<string>;
  setLatency(ms: number): Promise<void>;
  setChaos(options: ChaosOptions | null): Promise<void>;
  chaosInjected(): Promise<Record<ChaosKind, number> | null>;
}

const doc = ({ bytesBase64, ...rest }: WireDocument): DocumentView => ({
  ...rest,
  bytes: Buffer.from(bytesBase64, "base64"),
});

function message(m: WireMessage): MessageView {
  const { document, photo, ...rest } = m;
  return {
    ...rest,
    ...(document ? { document: doc(document) } : {}),
    ...(photo ? { photo: photo.map(doc) } : {}),
  };
}

export async function connectTelegramSandbox(url: string): Promise<RemoteTelegramSandbox> {
  const call = async <T>(action: string, body: Record<string, unknown> = {}): Promise<T> => {
    const res = await fetch(`${url}/control/${action}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const payload = (await res.json()) as { ok: boolean; result?: T; error?: string };
    if (!payload.ok) throw new Error(`telegram sandbox ${action}: ${payload.error}`);
    return payload.result as T;
  };
  const health = await call<{ url: string; token: string }>("health");
  const chat = async (userId: number): Promise<ChatView> => {
    const c = await call<WireChat>("chat", { userId });
    return {
      ...c,
      messages: c.messages.map(message),
      bot: c.bot.map(message),
      user: c.user.map(message),
    };
  };
  return {
    url,
    token: health.token,
    sendText: (userId, text) => call("sendText", { userId, text }),
    sendDocument: (userId, d) =>
      call("sendDocument", {
        userId,
        name: d.name,
        bytesBase64: Buffer.from(d.bytes).toString("base64"),
        mimeType: d.mimeType,
        caption: d.caption,
        size: d.size,
      }),
    sendPhoto: (userId, opts = {}) =>
      call("sendPhoto", {
        userId,
        caption: opts.caption,
        bytesBase64: opts.bytes ? Buffer.from(opts.bytes).toString("base64") : undefined,
      }),
    pressButton: async (userId, messageId, data) =>
      (await call<{ callbackQueryId: string }>("pressButton", { userId, messageId, data }))
        .callbackQueryId,
    setUser: async (userId, profile) => {
      await call("setUser", { userId, ...profile });
    },
    block: async (userId) => {
      await call("block", { userId });
    },
    unblock: async (userId) => {
      await call("unblock", { userId });
    },
    chat,
    waitFor: async (userId, predicate, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const found = (await chat(userId)).bot.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`waitFor(${userId}): nothing matched within ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    commands: (opts = {}) => call("commands", { ...opts }),
    callsTo: (method) => call("calls", { method }),
    calls: () => call("calls"),
    callbackAnswer: async (id) =>
      (await call<CallbackAnswer | null>("callbackAnswer", { id })) ?? undefined,
    failNext: async (method, fault) => {
      await call("failNext", { method, ...fault });
    },
    clearFaults: async () => {
      await call("clearFaults");
    },
    revokeToken: () => call("revokeToken"),
    setLatency: async (ms) => {
      await call("latency", { ms });
    },
    setChaos: async (options) => {
      await call("chaos", { options });
    },
    chaosInjected: () => call("chaosInjected"),
  };
}
