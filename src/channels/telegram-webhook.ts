/**
 * Telegram by webhook, when the bot has a public address: any number of processes behind a
 * load balancer serve one bot (core.telegram.org/bots/api#setwebhook).
 *
 * Every process sets the same webhook on start: PUBLIC_URL/telegram/<secret path>, with a
 * `secret_token` Telegram sends back in X-Telegram-Bot-Api-Secret-Token, checked on every
 * update (a request without it is refused and changes nothing). `max_connections` is 1, so
 * Telegram sends one update at a time, in order; each is answered as soon as it is kept in the
 * store, in its person's inbox — milliseconds, far inside Telegram's limit — and handled after
 * the answer. A person's updates are handled one at a time, oldest first, under a lock of
 * theirs in the store, by whichever process holds it: their conversation stays in order even
 * when their messages reach different processes. An update id already taken (Telegram sending
 * one again) is taken once. Long work goes to jobs, as in every turn.
 *
 * A process killed while a person's updates waited (or while one was being handled) leaves
 * them in the inbox: every process, on start, handles what waits for anyone (the people with
 * updates waiting are kept in an index), instead of leaving it for the person's next message.
 * The one being handled at the kill is handled again, and the engine knows its update id: its
 * turn isn't run twice.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { GrammyError } from "grammy";
import type { Update } from "grammy/types";
import { z } from "zod";
import { log, logContext } from "../log.js";
import { collection } from "../store/collection.js";
import type { KeyValue, ScoredSets, Store } from "../store/store.js";
import { withLock } from "../store/with-lock.js";
import type { TelegramChannel } from "./telegram.js";
import type { RawRoute } from "./web/ops-routes.js";

/** An update is small (a message's text is at most 4096 characters); past this it isn't one. */
const MAX_UPDATE_BYTES = 1024 * 1024;
/** How long a person's next update may wait for the process handling their previous one. */
const TURN_WAIT_MS = 5 * 60_000;
/** The index's one key. */
const WAITING = "people";

const Inbox = z.object({
  /** The newest update id taken in: an id at or below it was taken already. */
  last: z.number(),
  /** Updates taken in and not yet handled, oldest first. */
  updates: z.array(z.looseObject({ update_id: z.number() })),
});
type Inbox = z.infer<typeof Inbox>;

export interface TelegramWebhookOptions {
  channel: TelegramChannel;
  store: Store;
  /** The bot's public address (PUBLIC_URL). */
  publicUrl: string;
  /** Derives the secret path and token: the same in every process (FEDIMOVE_SECRET). */
  secret: string | Uint8Array;
  /** The lease of a person's turn lock (JOB_LEASE_MS). */
  leaseMs?: number;
}

export class TelegramWebhook {
  readonly path: string;
  private readonly token: string;
  private readonly inboxes: KeyValue<Inbox>;
  /** The people with updates waiting: put before an update is kept, taken out once none waits. */
  private readonly waiting: ScoredSets;
  private readonly draining = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly opts: TelegramWebhookOptions) {
    const derive = (purpose: string) =>
      createHmac("sha256", opts.secret)
        .update(`${purpose}\0${opts.channel.bot.token}`)
        .digest("base64url")
        .slice(0, 43);
    this.path = `/telegram/${derive("telegram webhook path")}`;
    // "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed": base64url is.
    this.token = derive("telegram webhook secret_token");
    this.inboxes = collection(opts.store, "telegram-inbox", Inbox);
    this.waiting = opts.store.scored("telegram-inbox-index");
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
    for (const person of await this.waiting.upTo(WAITING, Number.POSITIVE_INFINITY))
      this.drain(Number(person));
  }

  /** Waits, briefly, for the updates being handled here; the rest are handled by whoever is next. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.race([
      Promise.all(this.draining),
      new Promise((r) => setTimeout(r, 5000).unref()),
    ]);
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
        const person = personOf(update.data as unknown as Update);
        try {
          if (person !== undefined) await this.takeIn(person, update.data);
        } catch (err) {
          // Not kept: Telegram sends it again.
          log.warn("telegram: could not keep an update; Telegram will send it again", { err });
          res.writeHead(503).end();
          return;
        }
        res.writeHead(200).end();
        if (person !== undefined) this.drain(person);
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

  /** Keeps the update in its person's inbox, once. */
  private async takeIn(person: number, update: Inbox["updates"][number]): Promise<void> {
    await withLock(
      this.opts.store.locks,
      `telegram-inbox:${person}`,
      async () => {
        const inbox = (await this.inboxes.get(String(person))) ?? { last: 0, updates: [] };
        if (update.update_id <= inbox.last) return;
        await this.waiting.put(WAITING, String(person), Date.now());
        await this.inboxes.set(String(person), {
          last: update.update_id,
          updates: [...inbox.updates, update],
        });
      },
      { ttlMs: 10_000, waitMs: 10_000 },
    );
  }

  /** Handles the person's waiting updates, oldest first, one at a time across processes. */
  private drain(person: number): void {
    const work = withLock(
      this.opts.store.locks,
      `telegram-turns:${person}`,
      async () => {
        for (;;) {
          if (this.stopped) return;
          const next = (await this.inboxes.get(String(person)))?.updates[0];
          if (!next) return;
          await logContext({ update: next.update_id }, () =>
            this.opts.channel.bot.handleUpdate(next as unknown as Update),
          ).catch((err: unknown) => log.error("telegram update failed", { err }));
          await this.done(person, next.update_id);
        }
      },
      { ttlMs: this.opts.leaseMs ?? 15_000, waitMs: TURN_WAIT_MS },
    )
      .catch((err: unknown) => log.error("telegram: a person's updates wait", { err }))
      .finally(() => this.draining.delete(work));
    this.draining.add(work);
  }

  private async done(person: number, id: number): Promise<void> {
    await withLock(
      this.opts.store.locks,
      `telegram-inbox:${person}`,
      async () => {
        const inbox = await this.inboxes.get(String(person));
        if (!inbox) return;
        const updates = inbox.updates.filter((u) => u.update_id !== id);
        await this.inboxes.set(String(person), { ...inbox, updates });
        if (updates.length === 0) await this.waiting.remove(WAITING, String(person));
      },
      { ttlMs: 10_000, waitMs: 10_000 },
    );
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

/** Whose update it is: the person who wrote or pressed (the bot talks in private chats). */
function personOf(update: Update): number | undefined {
  return update.message?.from?.id ?? update.callback_query?.from.id;
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
