/**
 * Telegram through grammY: updates become Inputs, Replies become HTML messages
 * (every string escaped by text.ts), inline buttons, documents and one progress
 * message edited in place. Messages that carried a secret are deleted.
 */
import { autoRetry } from "@grammyjs/auto-retry";
import { type RunnerHandle, run, sequentialize } from "@grammyjs/runner";
import { type Api, Bot, type Context, GrammyError, InlineKeyboard, InputFile } from "grammy";
import type { Message } from "grammy/types";
import {
  COMMANDS,
  type CommandName,
  type DeliveryProgress,
  type Input,
  type Notifier,
  type NotifyArgs,
  RecipientGoneError,
  type Reply,
  type UserKey,
} from "../chat/conversation.js";
import { b, elide, html, REMOTE_TEXT_MAX, type Text } from "../chat/text.js";
import type { Engine, Turn } from "../engine/engine.js";
import { log, logContext } from "../log.js";
import { GuardedDispatcher } from "../net/dispatcher.js";
import { Http } from "../net/http.js";
import { Pacer } from "../net/pacer.js";

const DESCRIPTIONS: Record<CommandName, string> = {
  start: "Begin, or pick up where we were",
  status: "Where we are and what's running",
  back: "One step back",
  cancel: "Stop, and leave nothing running",
  forget: "Delete everything the bot knows about you",
  help: "What I can do",
};

/** What a message is when it isn't text or a file, in words for "I can't use … here". */
function describe(msg: Message): string {
  if (msg.photo) return "a photo";
  if (msg.sticker) return "a sticker";
  if (msg.voice || msg.audio) return "a voice message";
  if (msg.video || msg.video_note || msg.animation) return "a video";
  if (msg.location || msg.venue) return "a location";
  if (msg.contact) return "a contact";
  if (msg.poll) return "a poll";
  return "that kind of message";
}

/** Blocked, deactivated, or a chat that no longer exists: nobody will ever read it. */
function recipientGone(err: unknown): err is GrammyError {
  return (
    err instanceof GrammyError &&
    (err.error_code === 403 || (err.error_code === 400 && /chat not found/i.test(err.description)))
  );
}

/**
 * A message Telegram will never take as it is (a 4xx): sending it again is refused again. Not a
 * 429: flood control only puts it off (by `retry_after`, which past auto-retry's bound reaches
 * here), and it goes out later from the outbox.
 */
function refusedOutright(err: unknown): boolean {
  return (
    err instanceof GrammyError &&
    err.error_code < 500 &&
    err.error_code !== 429 &&
    // The bot's token, not the message: nothing goes out until the operator sets a new one.
    err.error_code !== 401
  );
}

/** Telegram refused the bot's token (401): revoked in BotFather, or not this bot's. */
export class TelegramTokenRefused extends Error {
  override readonly name = "TelegramTokenRefused";
  constructor(description: string) {
    super(
      `Telegram refused the bot token ("${description}"): it was revoked or is wrong. ` +
        "Get the current token from @BotFather (/mybots → API Token), set TELEGRAM_BOT_TOKEN " +
        "to it, and start the bot again.",
    );
  }
}

/** What the person reads instead of a file Telegram wouldn't take. */
function fileRefused(reply: Extract<Reply, { kind: "file" }>, err: unknown): Text {
  const why =
    err instanceof GrammyError
      ? `Telegram refused it: ${elide(err.description, REMOTE_TEXT_MAX)}`
      : "Telegram couldn't be reached";
  return [
    "I couldn't send you ",
    b(reply.name),
    ` — ${why}. `,
    ...(reply.again ?? ["Send /status to see where we are."]),
  ];
}

export interface TelegramOptions {
  token: string;
  apiRoot: string;
  engine: Engine;
  /** How often a call Telegram fails with a 5xx or a 429 is tried again (5; tests lower it). */
  retries?: number;
  /**
   * Called once when Telegram refuses the token (401) on any call — a send in webhook mode
   * included, where no poll would notice: the bot can't go on, and the app stops it.
   */
  onTokenRefused?: (err: TelegramTokenRefused) => void;
}

/** Telegram's own Bot API: the root that gets the whole network guard. */
const TELEGRAM_CLOUD = "https://api.telegram.org";
/** getFile: "bots can download files of up to 20 MB in size" (core.telegram.org/bots/api#getfile). */
const MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 60_000;

/**
 * Where files are downloaded: over our Http (undici's fetch, a size cap, timeouts, errors
 * without the token, which the download URL carries in its path). Telegram's own API gets the
 * whole guard (https, public addresses only); a root the operator set (a local Bot API server,
 * the stand-in) is theirs to choose, like SANDBOX_ORIGINS, and may be on their network.
 */
function downloader(apiRoot: string): Http {
  const own = new URL(apiRoot).origin !== TELEGRAM_CLOUD;
  return new Http(new GuardedDispatcher(new Pacer(), own), DOWNLOAD_TIMEOUT_MS);
}

export class TelegramChannel implements Notifier {
  readonly bot: Bot;
  private runner?: RunnerHandle;
  /** Progress messages to edit, per chat and key. Lost on restart: a new one is sent then. */
  private readonly progress = new Map<string, number>();
  private readonly files: Http;
  /** Replies (message id and place) this process has delivered, bounded: a retry skips them. */
  private readonly delivered = new Set<string>();
  /** Aborts calls that may retry for minutes (the command menu) when the channel stops. */
  private readonly stopping = new AbortController();
  /** Ends auto-retry's waits when the channel stops (and refuses new calls). */
  private readonly retryWaits = new AbortController();
  /** Telegram refused the token (said once). */
  private refused = false;

  constructor(private readonly opts: TelegramOptions) {
    this.files = downloader(opts.apiRoot);
    this.bot = new Bot(opts.token, { client: { apiRoot: opts.apiRoot } });
    // Once the channel stops, no call waits out a retry and then sends: a reply sent after the
    // app stopped waiting for it would never have its delivery saved, and would go out again
    // after a restart; it stays in the outbox instead. Only the waits end (auto-retry ends them
    // on the signal it is given, outermost below): a request already on its way is let finish
    // (innermost), since Telegram may take it whatever we do, and no new call starts.
    const waits = this.retryWaits.signal as unknown as Parameters<Api["getMe"]>[0];
    this.bot.api.config.use((prev, method, payload, signal) =>
      prev(method, payload, signal === waits ? undefined : signal),
    );
    this.bot.api.config.use(
      autoRetry({ maxRetryAttempts: opts.retries ?? 5, maxDelaySeconds: 120 }),
    );
    this.bot.api.config.use(async (prev, method, payload, signal) => {
      if (this.retryWaits.signal.aborted) throw new Error("telegram: the channel has stopped");
      const res = await prev(method, payload, signal ?? waits);
      if (!res.ok && res.error_code === 401 && !this.refused) {
        this.refused = true;
        opts.onTokenRefused?.(new TelegramTokenRefused(res.description));
      }
      return res;
    });
    // Every line logged while an update is handled names it.
    this.bot.use((ctx, next) => logContext({ update: ctx.update.update_id }, next));
    this.bot.use(sequentialize((ctx: Context) => ctx.chat?.id.toString()));
    this.bot.on("callback_query:data", (ctx) => this.onButton(ctx));
    this.bot.on("message", (ctx) => this.onMessage(ctx));
    this.bot.catch((err) => log.error("telegram update failed", { err: err.error }));
  }

  /** Ready to handle updates, however they come (telegram-webhook.ts, or polling in start). */
  async prepare(): Promise<void> {
    await this.bot.init();
    // The command menu is a convenience: the commands work typed without it. Refused (a 400) or
    // retried out (a lasting 5xx), it is logged and the bot answers anyway; a supervisor would
    // otherwise restart it into the same refusal, forever.
    this.bot.api
      .setMyCommands(
        COMMANDS.map((command) => ({ command, description: DESCRIPTIONS[command] })),
        undefined,
        // grammY types its signal with the abort-controller polyfill's class; Node's is the same at run time.
        this.stopping.signal as unknown as Parameters<Api["setMyCommands"]>[2],
      )
      .catch((err: unknown) => {
        if (!this.stopping.signal.aborted)
          log.warn("telegram: the command menu was not set; commands still work typed", { err });
      });
  }

  /**
   * Polling on its own, through grammY's runner, for a channel without a store (tests): the
   * runner confirms a batch as soon as it has arrived, so a kill loses what was being handled.
   * The app polls through telegram-polling.ts, which keeps each update in the store first.
   */
  async start(): Promise<void> {
    await this.prepare();
    this.runner = run(this.bot, {
      runner: { fetch: { allowed_updates: ["message", "callback_query"] } },
    });
    log.info("telegram: polling", { bot: this.bot.botInfo.username });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.runner?.isRunning()) await this.runner.stop();
    this.retryWaits.abort();
    await this.files.dispatcher.close();
  }

  /** Throws when it couldn't deliver: the engine keeps the replies in its outbox and tries again. */
  async notify(...[user, replies, seq, id, progress]: NotifyArgs): Promise<void> {
    const chatId = Number(user.slice("tg:".length));
    try {
      await this.renderOnce(chatId, replies, seq ?? 0, id, progress);
    } catch (err) {
      if (recipientGone(err))
        throw new RecipientGoneError(`${user} can no longer be reached: ${err.description}`);
      log.warn("telegram: could not notify", { user, err });
      throw err;
    }
  }

  private async onMessage(ctx: Context): Promise<void> {
    const msg = ctx.message!;
    if (ctx.chat?.type !== "private") return;
    const input = this.toInput(ctx, msg);
    await this.turn(ctx, input, msg.message_id);
  }

  private async onButton(ctx: Context): Promise<void> {
    const data = ctx.callbackQuery!.data!;
    await ctx.answerCallbackQuery().catch(() => undefined);
    const m = /^(\d+):(.+)$/.exec(data);
    const input: Input = m
      ? { kind: "choice", id: m[2]!, seq: Number(m[1]) }
      : { kind: "choice", id: data };
    await this.turn(ctx, input);
  }

  private toInput(ctx: Context, msg: Message): Input {
    if (msg.text !== undefined) {
      const cmd = /^\/([a-z_]+)(?:@\w+)?(?:\s+([\s\S]*))?$/i.exec(msg.text.trim());
      if (cmd) {
        const name = cmd[1]!.toLowerCase();
        return (COMMANDS as readonly string[]).includes(name)
          ? { kind: "command", name: name as CommandName, args: cmd[2] ?? "" }
          : { kind: "other", what: `/${name}` };
      }
      return { kind: "text", text: msg.text };
    }
    if (msg.document) {
      const doc = msg.document;
      return {
        kind: "file",
        name: doc.file_name ?? "file",
        size: doc.file_size ?? 0,
        read: () => this.download(ctx, doc.file_id),
      };
    }
    return { kind: "other", what: describe(msg) };
  }

  /** A document's bytes, from the file URL getFile names; a RemoteError without the token otherwise. */
  private async download(ctx: Context, fileId: string): Promise<Uint8Array> {
    const file = await ctx.api.getFile(fileId);
    if (!file.file_path) throw new Error("Telegram named no file to download");
    const { token, apiRoot } = this.opts;
    const res = await this.files.bytes(`${apiRoot}/file/bot${token}/${file.file_path}`, {
      maxBytes: MAX_DOWNLOAD_BYTES,
      // Telegram serves the file where getFile says; a redirect would carry the token's URL on.
      redirect: "error",
      secrets: [token],
    });
    return res.data;
  }

  private async turn(ctx: Context, input: Input, messageId?: number): Promise<void> {
    const chatId = ctx.chat!.id;
    const user: UserKey = `tg:${ctx.from!.id}`;
    try {
      // The update's id, however it came (polling or the webhook): Telegram hands an update
      // over again when its offset wasn't confirmed before a kill, or a webhook call failed.
      const source = `tg-update:${ctx.update.update_id}`;
      await this.opts.engine.receive(
        user,
        input,
        async (turn: Turn) => {
          if (turn.secret && messageId !== undefined) {
            await ctx.api
              .deleteMessage(chatId, messageId)
              .catch((err) => log.warn("telegram: could not delete a secret", { err }));
          }
          await this.renderOnce(chatId, turn.replies, turn.seq, turn.id, turn.progress);
        },
        source,
      );
    } catch (err) {
      log.error("turn failed", { user, err });
      if (messageId !== undefined && input.kind === "text") {
        // It may have carried a secret; when unsure, remove it.
        await ctx.api.deleteMessage(chatId, messageId).catch(() => undefined);
      }
      await ctx
        .reply(
          "Sorry, something went wrong on my side and nothing changed. Please try again in a minute.",
        )
        .catch(() => undefined);
    }
  }

  /**
   * Each reply on its own: one Telegram refuses (or that still fails after the retries) doesn't
   * hold back the ones after it, so the next question always arrives. A file that can't be sent
   * becomes a message saying so and how to get it again; a message Telegram refuses outright
   * (a 4xx) is logged, as sending it again would be refused again. A message that failed on
   * Telegram's side (a 5xx, the network) or that flood control put off longer than auto-retry
   * waits (a 429 past its bound) makes the whole call throw once the rest are out, so
   * the engine keeps the replies in its outbox: delivered again, the replies this process
   * already sent under that message id are skipped, and so are those the outbox says went out
   * (`progress`, saved after each reply that has another after it, so it holds across a kill).
   * Telegram takes no idempotency key: what remains is the reply being sent at the moment of
   * the kill — accepted by Telegram, but the kill came before the save that follows it (the
   * progress, or the turn's acknowledgement after its last reply) — which goes out again.
   * A person who can't be reached at all (blocked, chat gone) stops the rest at once.
   */
  private async renderOnce(
    chatId: number,
    replies: readonly Reply[],
    seq: number,
    id: string | undefined,
    progress?: DeliveryProgress,
  ): Promise<void> {
    let failed: unknown;
    for (const [k, reply] of replies.entries()) {
      if (k < (progress?.from ?? 0)) continue;
      const key = id === undefined ? undefined : `${id}:${k}`;
      if (key !== undefined && this.delivered.has(key)) continue;
      try {
        await this.renderOne(chatId, reply, seq);
      } catch (err) {
        if (recipientGone(err)) throw err;
        log.warn("telegram: a reply was not delivered", { chat: chatId, kind: reply.kind, err });
        if (reply.kind === "file") {
          await this.bot.api
            .sendMessage(chatId, html(fileRefused(reply, err)), { parse_mode: "HTML" })
            .catch((e: unknown) => {
              if (recipientGone(e)) throw e;
              log.warn("telegram: could not say a file was refused", { chat: chatId, err: e });
            });
        } else if (!refusedOutright(err)) {
          failed ??= err;
          continue;
        }
      }
      // Every reply so far out: saved, so a restart doesn't send them again. (The last is
      // followed by the turn's acknowledgement.)
      if (failed === undefined && k < replies.length - 1) await progress?.sent(k + 1);
      if (key === undefined) continue;
      this.delivered.add(key);
      if (this.delivered.size > 10_000)
        this.delivered.delete(this.delivered.values().next().value!);
    }
    if (failed !== undefined) throw failed;
  }

  private async renderOne(chatId: number, reply: Reply, seq: number): Promise<void> {
    if (reply.kind === "say") {
      const keyboard = new InlineKeyboard();
      for (const c of reply.choices ?? []) keyboard.text(elide(c.label), `${seq}:${c.id}`);
      let text = html(reply.text);
      for (const l of reply.links ?? []) {
        if (l.url.startsWith("https://")) keyboard.row().url(`${elide(l.label)} ↗`, l.url);
        else text += `\n${html([{ link: l.label, href: l.url }])}`;
      }
      await this.bot.api.sendMessage(chatId, text, {
        parse_mode: "HTML",
        link_preview_options: { is_disabled: true },
        reply_markup:
          keyboard.inline_keyboard.length > 0 && keyboard.inline_keyboard.some((r) => r.length > 0)
            ? keyboard
            : undefined,
      });
    } else if (reply.kind === "file") {
      await this.bot.api.sendDocument(chatId, new InputFile(reply.bytes, reply.name), {
        caption: reply.caption ? html(reply.caption) : undefined,
        parse_mode: "HTML",
      });
    } else {
      await this.showProgress(chatId, reply.key, html(reply.text));
    }
  }

  private async showProgress(chatId: number, key: string, text: string): Promise<void> {
    const id = this.progress.get(`${chatId}:${key}`);
    if (id !== undefined) {
      try {
        await this.bot.api.editMessageText(chatId, id, text, { parse_mode: "HTML" });
        return;
      } catch (err) {
        if (err instanceof GrammyError && /not modified/.test(err.description)) return;
        // Deleted or too old to edit: send a new one.
      }
    }
    const sent = await this.bot.api.sendMessage(chatId, text, { parse_mode: "HTML" });
    this.progress.set(`${chatId}:${key}`, sent.message_id);
  }
}
