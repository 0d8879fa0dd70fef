import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { autoRetry } from "@grammyjs/auto-retry";
import { type RunnerHandle, run } from "@grammyjs/runner";
import { Bot, GrammyError, InlineKeyboard, InputFile } from "grammy";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { connectTelegramSandbox } from "../../sandbox/telegram-remote.js";

const USER = 4242;

let sandbox: TelegramSandbox;
let runners: RunnerHandle[] = [];

beforeEach(async () => {
  sandbox = await startTelegramSandbox();
  runners = [];
});

afterEach(async () => {
  for (const r of runners) if (r.isRunning()) await r.stop();
  await sandbox.close();
});

function newBot(token = sandbox.token): Bot {
  return new Bot(token, { client: { apiRoot: sandbox.url } });
}

/** Starts a grammY bot with @grammyjs/runner; stopped after the test. */
async function startBot(setup: (bot: Bot) => void): Promise<Bot> {
  const bot = newBot();
  setup(bot);
  bot.catch(() => {}); // tests assert on the chat, not on the bot's own errors
  await bot.init();
  runners.push(run(bot));
  return bot;
}

async function rejection(p: Promise<unknown>): Promise<GrammyError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GrammyError);
    return err as GrammyError;
  }
  throw new Error("expected the call to fail");
}

/** A chat the bot may write to: the user has said something first. */
function openChat(userId = USER): void {
  sandbox.sendText(userId, "/start");
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

describe("grammY against the Telegram sandbox", () => {
  it("delivers a user's text and accepts an HTML reply with an inline keyboard", async () => {
    const seen: string[] = [];
    await startBot((bot) => {
      bot.command("start", (ctx) => ctx.reply("Welcome"));
      bot.on("message:text", async (ctx) => {
        seen.push(ctx.message.text);
        await ctx.reply(`<b>You said</b> ${escapeHtml(ctx.message.text)}`, {
          parse_mode: "HTML",
          link_preview_options: { is_disabled: true },
          reply_markup: new InlineKeyboard().text("Yes", "1:yes").text("No", "1:no"),
        });
      });
    });

    const sent = sandbox.sendText(USER, "/start");
    expect(sent.entities).toEqual([{ type: "bot_command", offset: 0, length: 6 }]);
    await sandbox.waitFor(USER, (m) => m.text === "Welcome");

    sandbox.sendText(USER, "a <b> & c");
    const reply = await sandbox.waitFor(USER, (m) => m.text?.startsWith("You said") ?? false);
    expect(seen).toEqual(["a <b> & c"]);
    expect(reply.text).toBe("You said a <b> & c");
    expect(reply.html).toBe("<b>You said</b> a &lt;b&gt; &amp; c");
    expect(reply.parseMode).toBe("HTML");
    expect(reply.entities).toEqual([{ type: "bold", offset: 0, length: 8 }]);
    expect(reply.replyMarkup).toEqual({
      inline_keyboard: [
        [
          { text: "Yes", callback_data: "1:yes" },
          { text: "No", callback_data: "1:no" },
        ],
      ],
    });
    expect(reply.raw).toMatchObject({
      chat: { id: USER, type: "private" },
      from: { id: sandbox.botId, is_bot: true },
      link_preview_options: { is_disabled: true },
    });
    const chat = sandbox.chat(USER);
    expect(chat.messages.map((m) => [m.from, m.messageId])).toEqual([
      ["user", 1],
      ["bot", 2],
      ["user", 3],
      ["bot", 4],
    ]);
  });

  it("routes a pressed button to callback_query and takes one answer", async () => {
    const second: unknown[] = [];
    await startBot((bot) => {
      bot.command("start", (ctx) =>
        ctx.reply("Pick", { reply_markup: new InlineKeyboard().text("A", "pick:a") }),
      );
      bot.on("callback_query:data", async (ctx) => {
        await ctx.answerCallbackQuery({ text: `got ${ctx.callbackQuery.data}` });
        second.push(await ctx.answerCallbackQuery().catch((e: GrammyError) => e.description));
        await ctx.editMessageText(`Picked ${ctx.callbackQuery.data}`);
      });
    });
    openChat();
    const menu = await sandbox.waitFor(USER, (m) => m.text === "Pick");

    expect(() => sandbox.pressButton(USER, menu.messageId, "pick:b")).toThrow(/no button/);
    expect(() => sandbox.pressButton(USER, 999, "pick:a")).toThrow(/no message/);

    const queryId = sandbox.pressButton(USER, menu.messageId, "pick:a");
    const edited = await sandbox.waitFor(USER, (m) => m.text === "Picked pick:a");
    expect(sandbox.callbackAnswer(queryId)).toEqual({ text: "got pick:a", showAlert: false });
    expect(second).toEqual([
      "Bad Request: query is too old and response timeout expired or query ID is invalid",
    ]);
    // editMessageText without reply_markup removes the keyboard, as on Telegram.
    expect(edited.replyMarkup).toBeUndefined();
    expect(edited.versions.map((v) => v.text)).toEqual(["Pick", "Picked pick:a"]);
    expect(() => sandbox.pressButton(USER, menu.messageId, "pick:a")).toThrow(/no button/);

    const unknown = await rejection(newBot().api.answerCallbackQuery("12345"));
    expect(unknown.error_code).toBe(400);
  });

  it("lets the bot download a user's document with getFile and the file URL", async () => {
    const bytes = Buffer.from(`Account address,Show boosts\n${"a@b.example,true\n".repeat(5000)}`);
    const got: Buffer[] = [];
    await startBot((bot) => {
      bot.on("message:document", async (ctx) => {
        const file = await ctx.api.getFile(ctx.message.document.file_id);
        const res = await fetch(`${sandbox.url}/file/bot${sandbox.token}/${file.file_path}`);
        got.push(Buffer.from(await res.arrayBuffer()));
        await ctx.reply(`${ctx.message.document.file_name} ${file.file_size}`);
      });
    });
    const sent = sandbox.sendDocument(USER, {
      name: "following_accounts.csv",
      bytes,
      mimeType: "text/csv",
    });
    expect(sent.document).toMatchObject({
      file_name: "following_accounts.csv",
      mime_type: "text/csv",
      file_size: bytes.length,
    });
    await sandbox.waitFor(USER, (m) => m.text === `following_accounts.csv ${bytes.length}`);
    expect(got).toHaveLength(1);
    expect(
      createHash("sha256")
        .update(got[0] as Buffer)
        .digest("hex"),
    ).toBe(createHash("sha256").update(bytes).digest("hex"));

    // Unknown paths and ids, and files over 20 MB, are refused.
    expect((await fetch(`${sandbox.url}/file/bot${sandbox.token}/documents/nope.csv`)).status).toBe(
      404,
    );
    const api = newBot().api;
    expect((await rejection(api.getFile("nope"))).description).toBe("Bad Request: invalid file_id");
    const big = sandbox.sendDocument(USER, {
      name: "big.zip",
      bytes: Buffer.from("x"),
      size: 21 * 1024 * 1024,
    });
    const bigId = (big.document as { file_id: string }).file_id;
    expect((await rejection(api.getFile(bigId))).description).toBe("Bad Request: file is too big");
  });

  it("stores a document the bot uploads with InputFile, name and bytes", async () => {
    openChat();
    const api = newBot().api;
    const bytes = Buffer.from("handle,url\n@a@b.example,https://b.example/@a\n");
    const msg = await api.sendDocument(USER, new InputFile(bytes, "moved follows.csv"), {
      caption: "<b>Your</b> list",
      parse_mode: "HTML",
    });
    expect(msg.document).toMatchObject({ file_name: "moved follows.csv", mime_type: "text/csv" });
    expect(msg.caption).toBe("Your list");
    expect(msg.caption_entities).toEqual([{ type: "bold", offset: 0, length: 4 }]);

    const doc = sandbox.chat(USER).bot[0];
    expect(doc?.document?.name).toBe("moved follows.csv");
    expect(doc?.document?.bytes.equals(bytes)).toBe(true);
    expect(doc?.html).toBe("<b>Your</b> list");
    expect(sandbox.callsTo("sendDocument")[0]?.files).toEqual({
      [(sandbox.callsTo("sendDocument")[0]?.args.document ?? "").replace("attach://", "")]:
        "moved follows.csv",
    });

    // The same file again by file_id; an unknown id or no file at all is refused.
    const again = await api.sendDocument(USER, msg.document?.file_id as string);
    expect(again.document?.file_id).toBe(msg.document?.file_id);
    expect((await rejection(api.sendDocument(USER, "AAAA"))).description).toBe(
      "Bad Request: wrong file identifier/HTTP URL specified",
    );
    expect(
      (await rejection(api.sendDocument(USER, new InputFile(Buffer.alloc(0), "e.txt"))))
        .description,
    ).toBe("Bad Request: file must be non-empty");
  });

  it("deletes messages once, only in their own chat", async () => {
    await startBot((bot) => {
      bot.on("message:text", async (ctx) => {
        if (ctx.message.text.startsWith("secret")) {
          await ctx.deleteMessage();
          await ctx.reply("Deleted your token");
        }
      });
    });
    const secret = sandbox.sendText(USER, "secret abc123");
    await sandbox.waitFor(USER, (m) => m.text === "Deleted your token");
    const mine = sandbox.chat(USER).user.find((m) => m.messageId === secret.message_id);
    expect(mine?.deleted).toBe(true);
    expect(mine?.text).toBe("secret abc123");

    const api = newBot().api;
    const again = await rejection(api.deleteMessage(USER, secret.message_id as number));
    expect(again.description).toBe("Bad Request: message to delete not found");
    sandbox.sendText(777, "hello");
    const other = await rejection(api.deleteMessage(777, 2));
    expect(other.description).toBe("Bad Request: message to delete not found");
    expect((await rejection(api.deleteMessage(31337, 1))).description).toBe(
      "Bad Request: chat not found",
    );
  });

  it("edits text in place and refuses an edit that changes nothing", async () => {
    openChat();
    const api = newBot().api;
    const kb = new InlineKeyboard().text("Stop", "stop");
    const msg = await api.sendMessage(USER, "Step <b>1</b>/3", {
      parse_mode: "HTML",
      reply_markup: kb,
    });
    await api.editMessageText(USER, msg.message_id, "Step <b>2</b>/3", {
      parse_mode: "HTML",
      reply_markup: kb,
    });
    const same = await rejection(
      api.editMessageText(USER, msg.message_id, "Step <b>2</b>/3", {
        parse_mode: "HTML",
        reply_markup: kb,
      }),
    );
    expect(same.description).toBe(
      "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
    );
    // Same text, keyboard dropped: that is a change.
    await api.editMessageText(USER, msg.message_id, "Step <b>2</b>/3", { parse_mode: "HTML" });
    const view = sandbox.chat(USER).bot[0];
    expect(view?.edits.map((e) => [e.text, e.replyMarkup !== undefined])).toEqual([
      ["Step 2/3", true],
      ["Step 2/3", false],
    ]);
    expect(view?.raw.edit_date).toBeTypeOf("number");
    expect((await rejection(api.editMessageText(USER, 999, "x"))).description).toBe(
      "Bad Request: message to edit not found",
    );
    expect((await rejection(api.editMessageText(USER, 1, "x"))).description).toBe(
      "Bad Request: message can't be edited",
    );
  });

  it("rejects what Telegram rejects, with Telegram's descriptions", async () => {
    openChat();
    const api = newBot().api;
    const desc = async (p: Promise<unknown>) => (await rejection(p)).description;

    expect(await desc(api.sendMessage(USER, "<foo>hi</foo>", { parse_mode: "HTML" }))).toBe(
      `Bad Request: can't parse entities: Unsupported start tag "foo" at byte offset 0`,
    );
    expect(await desc(api.sendMessage(USER, "1 < 2", { parse_mode: "HTML" }))).toBe(
      `Bad Request: can't parse entities: Unsupported start tag "" at byte offset 2`,
    );
    expect(await desc(api.sendMessage(USER, "<b>open", { parse_mode: "HTML" }))).toBe(
      `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`,
    );
    expect(
      await desc(api.sendMessage(USER, '<span class="x">s</span>', { parse_mode: "HTML" })),
    ).toBe(
      `Bad Request: can't parse entities: Tag "span" must have class "tg-spoiler" at byte offset 0`,
    );
    expect(await desc(api.sendMessage(USER, "x".repeat(4097)))).toBe(
      "Bad Request: message is too long",
    );
    await api.sendMessage(USER, "x".repeat(4096));
    expect(await desc(api.sendMessage(USER, "  \n "))).toBe("Bad Request: text must be non-empty");
    expect(await desc(api.sendMessage(USER, ""))).toBe("Bad Request: message text is empty");
    expect(await desc(api.sendMessage(USER, "hi", { parse_mode: "HTMLX" as "HTML" }))).toBe(
      "Bad Request: unsupported parse_mode",
    );

    const data65 = "d".repeat(65);
    expect(
      await desc(
        api.sendMessage(USER, "k", { reply_markup: new InlineKeyboard().text("b", data65) }),
      ),
    ).toBe("Bad Request: BUTTON_DATA_INVALID");
    await api.sendMessage(USER, "k", {
      reply_markup: new InlineKeyboard().text("b", "d".repeat(64)),
    });
    // 64 bytes, not characters: 33 two-byte letters are too many.
    expect(
      await desc(
        api.sendMessage(USER, "k", {
          reply_markup: new InlineKeyboard().text("b", "é".repeat(33)),
        }),
      ),
    ).toBe("Bad Request: BUTTON_DATA_INVALID");
    expect(
      await desc(
        api.sendMessage(USER, "k", {
          reply_markup: new InlineKeyboard().url("b", "ftp://x.example"),
        }),
      ),
    ).toBe(
      "Bad Request: inline keyboard button URL 'ftp://x.example' is invalid: Unsupported URL protocol",
    );
    expect(
      await desc(
        api.sendMessage(USER, "k", {
          reply_markup: new InlineKeyboard().url("b", "http://localhost:3000/"),
        }),
      ),
    ).toBe(
      "Bad Request: inline keyboard button URL 'http://localhost:3000/' is invalid: Wrong HTTP URL",
    );
    expect(
      await desc(
        api.sendMessage(USER, "k", {
          reply_markup: { inline_keyboard: [[{ text: "b" } as never]] },
        }),
      ),
    ).toBe(
      "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
    );

    expect(await desc(api.sendMessage(99, "hi"))).toBe("Bad Request: chat not found");
    expect(await desc(api.setMyCommands([{ command: "Start", description: "Go" }]))).toBe(
      "Bad Request: BOT_COMMAND_INVALID",
    );
    expect(await desc(api.setMyCommands([{ command: "start", description: " " }]))).toBe(
      "Bad Request: command description must be non-empty",
    );
    expect(await desc(api.raw.sendMessage({ chat_id: USER } as never))).toBe(
      "Bad Request: message text is empty",
    );
    expect(await desc(api.raw.getFile({} as never))).toBe("Bad Request: file_id not specified");
  });

  it("answers a wrong token with 401 and an unknown method with 404", async () => {
    const wrong = await rejection(newBot("123456:wrong-token").api.getMe());
    expect([wrong.error_code, wrong.description]).toEqual([401, "Unauthorized"]);
    const res = await fetch(`${sandbox.url}/bot${sandbox.token}/sendTelepathy`, { method: "POST" });
    expect([res.status, await res.json()]).toEqual([
      404,
      { ok: false, error_code: 404, description: "Not Found" },
    ]);
    // The Bot API takes GET with query parameters and method names in any case.
    const get = await fetch(`${sandbox.url}/bot${sandbox.token}/GETME`);
    expect(((await get.json()) as { result: { username: string } }).result.username).toBe(
      "sandbox_bot",
    );
  });

  it("retries an injected 429 through @grammyjs/auto-retry", async () => {
    openChat();
    const bot = newBot();
    bot.api.config.use(autoRetry({ maxRetryAttempts: 3 }));
    sandbox.failNext("sendMessage", { status: 429, retryAfter: 1 });
    const started = Date.now();
    const msg = await bot.api.sendMessage(USER, "after the flood");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(msg.text).toBe("after the flood");
    const calls = sandbox.callsTo("sendMessage");
    expect(calls.map((c) => [c.status, c.description])).toEqual([
      [429, "Too Many Requests: retry after 1"],
      [200, undefined],
    ]);
    // Without the plugin the bot sees Telegram's error body.
    sandbox.failNext("sendMessage", { status: 429, retryAfter: 7 });
    const raw = await rejection(newBot().api.sendMessage(USER, "x"));
    expect([raw.error_code, raw.parameters.retry_after]).toEqual([429, 7]);
  });

  it("answers 403 for a user who blocked the bot", async () => {
    openChat();
    const api = newBot().api;
    sandbox.block(USER);
    const err = await rejection(api.sendMessage(USER, "hello?"));
    expect([err.error_code, err.description]).toEqual([
      403,
      "Forbidden: bot was blocked by the user",
    ]);
    expect(sandbox.chat(USER).blocked).toBe(true);
    sandbox.unblock(USER);
    await api.sendMessage(USER, "hello again");
  });

  it("records commands set with setMyCommands", async () => {
    const api = newBot().api;
    await api.setMyCommands([
      { command: "start", description: "Begin" },
      { command: "/help", description: "What I can do" },
    ]);
    expect(sandbox.commands()).toEqual([
      { command: "start", description: "Begin" },
      { command: "help", description: "What I can do" },
    ]);
    expect(await api.getMyCommands()).toEqual(sandbox.commands());
    expect(await api.getMyCommands({ language_code: "de" })).toEqual([]);
  });

  it("long-polls like Telegram: offsets confirm, a second poller wins, close() ends a poll", async () => {
    const base = `${sandbox.url}/bot${sandbox.token}/getUpdates`;
    const poll = (body: Record<string, unknown>) =>
      fetch(base, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (r) => [r.status, await r.json()] as const);

    const first = poll({ timeout: 30 });
    await new Promise((r) => setTimeout(r, 50));
    const second = poll({ timeout: 30 });
    const [status, body] = await first;
    expect([status, body]).toEqual([
      409,
      {
        ok: false,
        error_code: 409,
        description:
          "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
      },
    ]);
    sandbox.sendText(USER, "one");
    const [, got] = await second;
    const updates = (got as { result: { update_id: number }[] }).result;
    expect(updates).toHaveLength(1);
    const id = updates[0]?.update_id as number;
    sandbox.sendText(USER, "two");
    const [, again] = await poll({ offset: id + 1 });
    expect((again as { result: { update_id: number }[] }).result.map((u) => u.update_id)).toEqual([
      id + 1,
    ]);

    const hanging = poll({ offset: id + 2, timeout: 30 });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await sandbox.close();
    expect(await hanging).toEqual([200, { ok: true, result: [] }]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("ends a waiting long poll as Telegram does: 409 on setWebhook, 401 once the token is revoked", async () => {
    const call = (token: string, method: string, body: Record<string, unknown>) =>
      fetch(`${sandbox.url}/bot${token}/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (r) => [r.status, await r.json()] as const);
    const token = sandbox.token;

    const waiting = call(token, "getUpdates", { timeout: 30 });
    await new Promise((r) => setTimeout(r, 50));
    await call(token, "setWebhook", { url: "https://bot.example/hook" });
    expect(await waiting).toEqual([
      409,
      { ok: false, error_code: 409, description: "Conflict: terminated by setWebhook request" },
    ]);
    await call(token, "deleteWebhook", {});

    const polling = call(token, "getUpdates", { timeout: 30 });
    await new Promise((r) => setTimeout(r, 50));
    const fresh = sandbox.revokeToken();
    const unauthorized = [401, { ok: false, error_code: 401, description: "Unauthorized" }];
    expect(await polling).toEqual(unauthorized);
    expect(await call(token, "getMe", {})).toEqual(unauthorized);
    expect(fresh).not.toBe(token);
    expect(sandbox.token).toBe(fresh);
    expect((await call(fresh, "getMe", {}))[0]).toBe(200);
  });

  it("works with grammY's built-in bot.start() and bot.stop()", async () => {
    const bot = newBot();
    bot.on("message:text", (ctx) => ctx.reply(`got ${ctx.message.text}`));
    let polling: Promise<void> = Promise.resolve();
    await new Promise<void>((onStart) => {
      polling = bot.start({ drop_pending_updates: true, onStart: () => onStart() });
    });
    sandbox.sendText(USER, "ping");
    await sandbox.waitFor(USER, (m) => m.text === "got ping");
    await bot.stop();
    await polling;
    expect(sandbox.callsTo("deleteWebhook")[0]?.args.drop_pending_updates).toBe("true");
    // bot.stop() confirmed the handled update: nothing is left for the next poller.
    expect(sandbox.pendingUpdates()).toEqual([]);
  });

  it("stops a grammY runner cleanly while a long poll is pending", async () => {
    await startBot(() => {});
    await new Promise((r) => setTimeout(r, 100));
    const runner = runners[0] as RunnerHandle;
    const started = Date.now();
    await runner.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    // The aborted poll left no poller behind: a new getUpdates is not answered with 409.
    const res = await fetch(`${sandbox.url}/bot${sandbox.token}/getUpdates`);
    expect(res.status).toBe(200);
  });
});

describe("faults and other user input", () => {
  it("injects latency and dropped connections", async () => {
    sandbox.setLatency(150);
    const api = newBot().api;
    const started = Date.now();
    await api.getMe();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    sandbox.setLatency(0);
    sandbox.failNext("getMe", { status: 502, drop: true });
    await expect(api.getMe()).rejects.toThrow(/Network request for 'getMe' failed/);
    sandbox.failNext("getMe", { status: 502, rawBody: "<html>502 Bad Gateway</html>" });
    await expect(api.getMe()).rejects.toThrow();
    expect((await api.getMe()).username).toBe("sandbox_bot");
    expect(sandbox.callsTo("getMe").map((c) => c.status)).toEqual([200, 502, 502, 200]);
  });

  it("delivers a photo as photo sizes", async () => {
    const sizes: number[] = [];
    await startBot((bot) => {
      bot.on("message:photo", async (ctx) => {
        sizes.push(...ctx.message.photo.map((p) => p.width));
        await ctx.reply("nice photo");
      });
    });
    sandbox.sendPhoto(USER, { caption: "me" });
    await sandbox.waitFor(USER, (m) => m.text === "nice photo");
    expect(sizes).toEqual([90, 320, 800]);
    expect(sandbox.chat(USER).user[0]?.kind).toBe("photo");
  });
});

describe("driving the sandbox over HTTP", () => {
  it("offers the same operations through /control endpoints", async () => {
    await startBot((bot) => {
      bot.on("message:text", (ctx) =>
        ctx.reply(`echo ${ctx.message.text}`, {
          reply_markup: new InlineKeyboard().text("ok", "ok"),
        }),
      );
      bot.on("callback_query:data", (ctx) => ctx.answerCallbackQuery({ text: "done" }));
    });
    const remote = await connectTelegramSandbox(sandbox.url);
    expect(remote.token).toBe(sandbox.token);
    await remote.sendText(USER, "hi");
    const reply = await remote.waitFor(USER, (m) => m.text === "echo hi");
    const id = await remote.pressButton(USER, reply.messageId, "ok");
    await expect.poll(() => remote.callbackAnswer(id)).toEqual({ text: "done", showAlert: false });
    await expect(remote.pressButton(USER, reply.messageId, "nope")).rejects.toThrow(/no button/);
    expect((await remote.callsTo("sendMessage")).length).toBe(1);
    await remote.failNext("sendMessage", { status: 500 });
    await remote.sendText(USER, "again");
    await expect
      .poll(async () => (await remote.callsTo("sendMessage")).map((c) => c.status))
      .toEqual([200, 500]);

    const res = await fetch(`${sandbox.url}/control/waitFor`, {
      method: "POST",
      body: JSON.stringify({ userId: USER, textIncludes: "echo", timeoutMs: 1000 }),
    });
    expect(((await res.json()) as { result: { text: string } }).result.text).toBe("echo hi");
  });

  it("runs as a separate process that prints its url and stops on SIGTERM", async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", "sandbox/telegram-server.ts", "--port", "0"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
      const info = JSON.parse(line) as { url: string; token: string };
      expect(info.token).toBe("123456:AAHsandboxTokenForTests0123456789ab");
      const me = await fetch(`${info.url}/bot${info.token}/getMe`);
      expect(me.status).toBe(200);
      const remote = await connectTelegramSandbox(info.url);
      await remote.sendText(1, "hello");
      const updates = await fetch(`${info.url}/bot${info.token}/getUpdates`);
      expect(((await updates.json()) as { result: unknown[] }).result).toHaveLength(1);
    } finally {
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
    }
  });
});

describe("webhook (core.telegram.org/bots/api#setwebhook)", () => {
  it("refuses what Telegram refuses: http, another port, no host, a private or IPv6 address", async () => {
    const bot = newBot();
    const refusal = (url: string) =>
      bot.api.setWebhook(url).then(
        () => "set",
        (err: GrammyError) => `${err.error_code}: ${err.description}`,
      );
    const bad = "400: Bad Request: bad webhook:";
    expect(await refusal("http://bot.example/hook")).toBe(
      `${bad} An HTTPS URL must be provided for webhook`,
    );
    // Loopback too, unless the test opts into the stand-in's liberty.
    expect(await refusal("http://127.0.0.1:8080/hook")).toBe(
      `${bad} An HTTPS URL must be provided for webhook`,
    );
    for (const port of [8080, 444, 3000])
      expect(await refusal(`https://bot.example:${port}/hook`)).toBe(
        `${bad} Webhook can be set up only on ports 80, 88, 443 or 8443`,
      );
    for (const url of ["https:///hook", "https://:443/hook", "ftp://bot.example/hook"])
      expect(await refusal(url)).toBe("400: Bad Request: invalid webhook URL specified");
    expect(await refusal("https://10.1.2.3/hook")).toBe(`${bad} IP address 10.1.2.3 is reserved`);
    expect(await refusal("https://192.168.0.10:8443/hook")).toBe(
      `${bad} IP address 192.168.0.10 is reserved`,
    );
    expect(await refusal("https://localhost:8443/hook")).toBe(
      `${bad} IP address 127.0.0.1 is reserved`,
    );
    expect(await refusal("https://[2001:db8::1]/hook")).toBe(
      `${bad} IPv6-only addresses are not allowed`,
    );
    // The secret token is checked before where the URL points (Client.cpp do_set_webhook).
    await expect(
      bot.api.setWebhook("http://bot.example/hook", { secret_token: "bad token!" }),
    ).rejects.toThrow(/unallowed characters/);

    // What Telegram takes: https on 443, 80, 88 or 8443; no scheme means https.
    for (const url of [
      "https://bot.example/hook",
      "https://bot.example:88/hook",
      "https://bot.example:8443/hook",
      "https://bot.example:80/hook",
      "https://203.0.114.9/hook",
    ]) {
      expect(await refusal(url)).toBe("set");
      expect((await bot.api.getWebhookInfo()).url).toBe(url);
    }
    expect(await refusal("bot.example/hook")).toBe("set");
    expect((await bot.api.getWebhookInfo()).url).toBe("https://bot.example/hook");
    // A refused URL leaves no webhook: Telegram closes the old one before trying the new.
    expect(await refusal("https://bot.example:8080/hook")).not.toBe("set");
    expect((await bot.api.getWebhookInfo()).url).toBe("");
  });

  it("takes a URL too long to deliver to, and never delivers (as Telegram)", async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    await sandbox.close();
    sandbox = await startTelegramSandbox({ allowLoopbackHttp: true });
    try {
      const port = (server.address() as { port: number }).port;
      const bot = newBot();
      await bot.api.setWebhook(`http://127.0.0.1:${port}/${"a".repeat(5000)}`);
      sandbox.sendText(USER, "one");
      await new Promise((r) => setTimeout(r, 300));
      expect(hits).toBe(0);
      expect(sandbox.pendingUpdates()).toHaveLength(1);
      await bot.api.setWebhook(`http://127.0.0.1:${port}/hook`);
      for (let k = 0; k < 100 && sandbox.pendingUpdates().length > 0; k++)
        await new Promise((r) => setTimeout(r, 50));
      expect(hits).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("POSTs each update with the secret header, in order, and refuses getUpdates while set", async () => {
    // A bot on loopback can have no certificate: this test opts into the stand-in's liberty.
    await sandbox.close();
    sandbox = await startTelegramSandbox({ allowLoopbackHttp: true });
    const got: { secret: string | undefined; update: { update_id: number } }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        got.push({
          secret: req.headers["x-telegram-bot-api-secret-token"] as string | undefined,
          update: JSON.parse(body),
        });
        // The first answer fails: that update is sent again.
        res.statusCode = got.length === 1 ? 500 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as { port: number }).port;
      const bot = newBot();
      await expect(
        bot.api.setWebhook(`http://127.0.0.1:${port}/hook`, { secret_token: "bad token!" }),
      ).rejects.toThrow(/unallowed characters/);
      await bot.api.setWebhook(`http://127.0.0.1:${port}/hook`, {
        secret_token: "s3cret_-",
        max_connections: 1,
      });
      expect((await bot.api.getWebhookInfo()).url).toBe(`http://127.0.0.1:${port}/hook`);
      await expect(bot.api.getUpdates()).rejects.toThrow(/webhook is active/);
      sandbox.sendText(USER, "one");
      sandbox.sendText(USER, "two");
      for (let k = 0; k < 100 && sandbox.webhookDeliveries().length < 3; k++)
        await new Promise((r) => setTimeout(r, 50));
      expect(got.map((g) => g.secret)).toEqual(["s3cret_-", "s3cret_-", "s3cret_-"]);
      const ids = got.map((g) => g.update.update_id);
      expect(ids[0]).toBe(ids[1]);
      expect(ids[2]).toBe(ids[1]! + 1);
      expect(sandbox.pendingUpdates()).toEqual([]);
      await bot.api.deleteWebhook();
      sandbox.sendText(USER, "three");
      expect(await bot.api.getUpdates()).toHaveLength(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
