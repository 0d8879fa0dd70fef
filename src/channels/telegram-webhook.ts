/**
 * Telegram by webhook, when the bot has a public address: any number of processes behind a
 * load balancer serve one bot (core.telegram.org/bots/api#setwebhook).
 *
 * Every process sets the same webhook on start: PUBLIC_URL/telegram/<secret path>, with a
 * `secret_token` Telegram sends back in X-Telegram-Bot-Api-Secret-Token, checked on every
 * update (a request without it is refused and changes nothing). `max_connections` is 1, so
 * Telegram sends one update at a time, in order; each is answered once it is handled (a turn
 * with nothing of the person's waiting: milliseconds) or kept in the store, in its person's
 * inbox, to be handled after the answer — a turn that runs long is kept too, far inside
 * Telegram's limit (telegram-inbox.ts: handled once, one at a time per person across processes,
 * what a killed process left handled on start). Long work goes to jobs, as in every turn.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { GrammyError } from "grammy";
import { z } from "zod";
import { log } from "../log.js";
import type { Store } from "../store/store.js";
import type { TelegramChannel } from "./telegram.js";
import { TelegramInbox } from "./telegram-inbox.js";
import type { RawRoute } from "./web/ops-routes.js";

/** An update is small (a message's text is at most 4096 characters); past this it isn't one. */
const MAX_UPDATE_BYTES = 1024 * 1024;
export interface TelegramWebhookOptions {
  channel: TelegramChannel;
  store: Store;
  /** The bot's public address (PUBLIC_URL). */
  publicUrl: string;
  /** Derives the secret path and token: the same in every process (FEDIMOVE_SECRET). */
  secret: string | Uint8Array;
  /** The lease of a person's turn lock (JOB_LEASE_MS). */
  leaseMs?: number;
  /** How long a turn handled at once may hold Telegram's answer (telegram-inbox.ts). */
  handleAtOnceMs?: number;
}

export class TelegramWebhook {
  readonly path: string;
  private readonly token: string;
  private readonly inbox: TelegramInbox;

  constructor(private readonly opts: TelegramWebhookOptions) {
    const derive = (purpose: string) =>
      createHmac("sha256", opts.secret)
        .update(`${purpose}\0${opts.channel.bot.token}`)
        .digest("base64url")
        .slice(0, 43);
    this.path = `/telegram/${derive("telegram webhook path")}`;
    // "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed": base64url is.
    this.token = derive("telegram webhook secret_token");
    this.inbox = new TelegramInbox({
      channel: opts.channel,
      store: opts.store,
      leaseMs: opts.leaseMs,
      handleAtOnceMs: opts.handleAtOnceMs,
    });
  }

  get url(): string {
    return new URL(this.path, this.opts.publicUrl).href;
  }

  /**
   * Sets the webhook (the same from every process) and makes the bot ready to handle updates.
   * Telegram refusing it stops the start with its reason: this process would hear nothing.
   */
  async start(): Promise<void> {
    await this.opts.channel.prepare();
    await this.opts.channel.bot.api
      .setWebhook(this.url, {
        secret_token: this.token,
        max_connections: 1,
        allowed_updates: ["message", "callback_query"],
      })
      .catch((err: unknown) => {
        if (err instanceof GrammyError && err.error_code === 400)
          throw new WebhookRefused(this.opts.publicUrl, err.description);
        throw err;
      });
    log.info("telegram: webhook set", { bot: this.opts.channel.bot.botInfo.username });
    await this.inbox.resume();
  }

  /** Waits, briefly, for the updates being handled here; the rest are handled by whoever is next. */
  async stop(): Promise<void> {
    await this.inbox.stop();
  }

  readonly route: RawRoute = (req, url, res) => {
    if (url.pathname !== this.path) return false;
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return true;
    }
    if (!this.sentByTelegram(req)) {
      res.writeHead(401).end();
      return true;
    }
    readJson(req).then(
      async (body) => {
        const update = z.looseObject({ update_id: z.number().int() }).safeParse(body);
        if (!update.success) {
          res.writeHead(400).end();
          return;
        }
        const person = TelegramInbox.personOf(update.data);
        try {
          if (person !== undefined) await this.inbox.arrive(person, update.data);
        } catch (err) {
          // Neither handled nor kept: Telegram sends it again.
          log.warn("telegram: could not take an update in; Telegram will send it again", { err });
          res.writeHead(503).end();
          return;
        }
        res.writeHead(200).end();
      },
      () => {
        if (!res.headersSent) res.writeHead(413).end();
      },
    );
    return true;
  };

  private sentByTelegram(req: IncomingMessage): boolean {
    const sent = req.headers["x-telegram-bot-api-secret-token"];
    if (typeof sent !== "string") return false;
    const a = Buffer.from(sent);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

/**
 * Telegram's 400 to setWebhook, named for the operator: PUBLIC_URL (never the secret path
 * under it, nor the token), Telegram's reason, and what it takes.
 */
export class WebhookRefused extends Error {
  constructor(publicUrl: string, reason: string) {
    const u = new URL(publicUrl);
    super(
      `Telegram refused the webhook at PUBLIC_URL ${u.origin}${u.pathname.replace(/\/$/, "")}: ` +
        `"${reason}". Telegram sends updates only to https on port 443, 80, 88 or 8443 at a ` +
        "public address; set such a PUBLIC_URL, or TELEGRAM_WEBHOOK=false to poll instead.",
    );
    this.name = "WebhookRefused";
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_UPDATE_BYTES) throw new Error("too large");
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return undefined;
  }
}
