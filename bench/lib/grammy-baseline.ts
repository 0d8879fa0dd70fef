/**
 * The yardstick: a bare grammY bot with in-memory sessions taking the same five
 * messages, with every Bot API call answered at once in-process. What it costs per
 * message and per idle user is about the least a Telegram bot in Node can cost.
 */
import { performance } from "node:perf_hooks";
import { Bot, type Context, type SessionFlavor, session } from "grammy";
import type { Message, Update, UserFromGetMe } from "grammy/types";
import type { Samples, Side } from "./measure.js";

interface Session {
  step: "welcome" | "old-server" | "old-sign-in" | "old-token" | "exporting";
}
type Ctx = Context & SessionFlavor<Session>;

const botInfo: UserFromGetMe = {
  id: 7_000_000_001,
  is_bot: true,
  first_name: "fedimove",
  username: "fedimove_bench_bot",
  can_join_groups: false,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
  can_manage_bots: false,
  supports_join_request_queries: false,
};

const chatOf = (id: number) => ({ id, type: "private" as const, first_name: `user${id}` });
const userOf = (id: number) => ({ id, is_bot: false as const, first_name: `user${id}` });
const now = () => Math.floor(Date.now() / 1000);

let messageIds = 0;
/** What Telegram would answer, close enough for grammY to treat it as real. */
function fakeResultFor(method: string, payload: Record<string, unknown>): unknown {
  if (method === "sendMessage") {
    const message: Message.TextMessage = {
      message_id: ++messageIds,
      date: now(),
      chat: chatOf(Number(payload.chat_id)),
      from: { id: botInfo.id, is_bot: true, first_name: botInfo.first_name },
      text: String(payload.text),
    };
    return message;
  }
  return true; // answerCallbackQuery, deleteMessage, …
}

function bareGrammyBot(): Bot<Ctx> {
  const bot = new Bot<Ctx>("7000000001:bench-token-never-sent-anywhere", { botInfo });
  bot.api.config.use(async (_prev, method, payload) => {
    return { ok: true, result: fakeResultFor(method, payload as Record<string, unknown>) } as never;
  });
  bot.use(session({ initial: (): Session => ({ step: "welcome" }) }));
  bot.command("start", async (ctx) => {
    ctx.session.step = "old-server";
    await ctx.reply("Hi! I'll move your Mastodon account. Which Mastodon server is it on?", {
      reply_markup: {
        inline_keyboard: [[{ text: "What changes exactly?", callback_data: "changes" }]],
      },
    });
  });
  bot.callbackQuery("token", async (ctx) => {
    ctx.session.step = "old-token";
    await ctx.answerCallbackQuery();
    await ctx.reply("To read your account, I need an access token. Paste it here.");
  });
  bot.on("message:text", async (ctx) => {
    if (ctx.session.step === "old-server") {
      ctx.session.step = "old-sign-in";
      await ctx.reply(`Tap to sign in to ${ctx.message.text}, or paste a token instead.`, {
        reply_markup: {
          inline_keyboard: [[{ text: "Paste a token instead", callback_data: "token" }]],
        },
      });
    } else if (ctx.session.step === "old-token") {
      ctx.session.step = "exporting";
      await ctx.deleteMessage();
      await ctx.reply("Signed in. Saving the people you follow…");
    }
  });
  return bot;
}

let updateIds = 0;
/** The five updates one user sends, in order: /start, a button, a server, a button, a token. */
function updatesFor(id: number): Update[] {
  const message = (text: string, command = false): Update => ({
    update_id: ++updateIds,
    message: {
      message_id: ++messageIds,
      date: now(),
      chat: chatOf(id),
      from: userOf(id),
      text,
      ...(command ? { entities: [{ type: "bot_command", offset: 0, length: text.length }] } : {}),
    },
  });
  const press = (data: string): Update => ({
    update_id: ++updateIds,
    callback_query: {
      id: String(updateIds),
      from: userOf(id),
      chat_instance: String(id),
      data,
      message: { message_id: ++messageIds, date: now(), chat: chatOf(id), text: "…" },
    },
  });
  return [
    message("/start", true),
    message("mastodon.social"),
    press("token"),
    message("0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"),
  ];
}

export function grammySide(): Side {
  const bot = bareGrammyBot();
  return {
    async journey(k, samples?: Samples) {
      for (const update of updatesFor(1 + k)) {
        const start = performance.now();
        await bot.handleUpdate(update);
        samples?.add(performance.now() - start);
      }
      return true;
    },
    idle: async () => {},
    close: async () => {},
  };
}
