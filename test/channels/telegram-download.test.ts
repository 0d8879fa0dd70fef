/**
 * A document a Telegram user sends is downloaded through our Http: undici's fetch with the
 * guard, Telegram's 20 MB cap, no redirect followed, and the bot token (which the file URL
 * carries in its path) in no error, whatever the file server says back.
 */
import type http from "node:http";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { TelegramChannel } from "../../src/channels/telegram.js";
import type { Input } from "../../src/chat/conversation.js";
import type { Engine } from "../../src/engine/engine.js";
import { BadResponseError, RejectedError } from "../../src/net/errors.js";
import { serve } from "../net/serve.js";

const TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const FILE_PATH = "documents/file_7.csv";
const CSV = "Account address\nada@old.example\n";

type FileAnswer = "ok" | "echo-404" | "huge" | "redirect";

/**
 * The Bot API, as far as a download needs it: getMe, getFile, sendMessage, and the file route,
 * answering as `answer` says. A 404 echoes the URL it was asked for, as a proxy's page might.
 */
async function botApi(answer: FileAnswer, elsewhere?: string) {
  let streamed = 0;
  const url = await serve((req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = req.url ?? "";
    const json = (result: unknown) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ok: true, result }));
    };
    req.resume();
    if (path === `/bot${TOKEN}/getMe`) {
      return json({ id: 1, is_bot: true, first_name: "fedimove", username: "fedimove_bot" });
    }
    if (path === `/bot${TOKEN}/getFile`) {
      return json({ file_id: "F1", file_unique_id: "U1", file_size: 40, file_path: FILE_PATH });
    }
    if (path.startsWith(`/bot${TOKEN}/`)) return json({ message_id: 9, date: 0, chat: { id: 1 } });
    if (path !== `/file/bot${TOKEN}/${FILE_PATH}`) {
      res.statusCode = 404;
      return res.end();
    }
    if (answer === "ok") return res.end(CSV);
    if (answer === "echo-404") {
      res.statusCode = 404;
      res.setHeader("content-type", "application/json");
      return res.end(JSON.stringify({ error: `No such file: ${path}` }));
    }
    if (answer === "redirect") {
      res.statusCode = 302;
      res.setHeader("location", `${elsewhere}${path}`);
      return res.end();
    }
    const chunk = Buffer.alloc(1024 * 1024, "a");
    const pump = () => {
      while (!res.destroyed && streamed < 64) {
        streamed += 1;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  });
  return { url, streamed: () => streamed };
}

const channels: TelegramChannel[] = [];
afterEach(async () => {
  for (const c of channels.splice(0)) await c.stop();
});

/** A private chat's document, through the channel, read the way the step reads it. */
async function sendDocument(apiRoot: string): Promise<Uint8Array | Error> {
  let read: Promise<Uint8Array | Error> | undefined;
  const engine = {
    async receive(_user: string, input: Input) {
      if (input.kind !== "file") throw new Error(`expected a file, got ${input.kind}`);
      read = input.read().catch((e: unknown) => e as Error);
      await read;
      return { replies: [], seq: 0, secret: false };
    },
  } as unknown as Engine;
  const channel = new TelegramChannel({ token: TOKEN, apiRoot, engine });
  channels.push(channel);
  await channel.bot.init();
  await channel.bot.handleUpdate({
    update_id: 1,
    message: {
      message_id: 5,
      date: 0,
      chat: { id: 42, type: "private", first_name: "Ada" },
      from: { id: 42, is_bot: false, first_name: "Ada" },
      document: { file_id: "F1", file_unique_id: "U1", file_name: "follows.csv", file_size: 40 },
    },
  });
  if (!read) throw new Error("the engine was never asked");
  return read;
}

function expectNoToken(err: unknown): void {
  const secret = TOKEN.split(":")[1]!;
  for (let e = err; e; e = (e as { cause?: unknown }).cause) {
    const views = [String(e), JSON.stringify(e) ?? "", inspect(e, { depth: 8 })];
    if (e instanceof Error) views.push(e.message, e.stack ?? "");
    for (const view of views) expect(view).not.toContain(secret);
  }
}

describe("Telegram file download", () => {
  it("reads the document's bytes from the file route", async () => {
    const api = await botApi("ok");
    const bytes = await sendDocument(api.url);
    expect(new TextDecoder().decode(bytes as Uint8Array)).toBe(CSV);
  });

  it("says what failed without the token, even when the server echoes the URL", async () => {
    const api = await botApi("echo-404");
    const err = await sendDocument(api.url);
    expect(err).toBeInstanceOf(RejectedError);
    expect((err as RejectedError).status).toBe(404);
    expect((err as RejectedError).path).toBe(`/file/bot[redacted]/${FILE_PATH}`);
    expectNoToken(err);
  });

  it("stops past Telegram's 20 MB and hangs up", async () => {
    const api = await botApi("huge");
    const err = await sendDocument(api.url);
    expect(err).toBeInstanceOf(BadResponseError);
    expect((err as Error).message).toMatch(/answered with more than 20 MB$/);
    expect(api.streamed()).toBeLessThan(64);
    expectNoToken(err);
  });

  it("follows no redirect: the URL with the token goes nowhere else", async () => {
    const reached: string[] = [];
    const elsewhere = await serve((req, res) => {
      reached.push(req.url ?? "");
      res.end("stolen");
    });
    const api = await botApi("redirect", elsewhere);
    const err = await sendDocument(api.url);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(reached).toEqual([]);
    expectNoToken(err);
  });
});
