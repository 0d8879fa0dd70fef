/**
 * The whole journey by direct message to the bot's own Fediverse account.
 *
 * In: mentions, from the streaming API while it is up and from the notifications API from the
 * saved cursor at start, after every reconnect, and every pollMs while streaming is down (and
 * now and then while it is up). A direct mention is a turn for its sender
 * (`mastodon:<actor URI>`); a public or unlisted one gets one short direct reply pointing to
 * DMs; bots and the bot itself are ignored. Each person's messages are handled one at a time,
 * in the order sent, people side by side; a person sending too fast waits, alone.
 *
 * Out: one direct message per turn, cut to the server's max_characters into a threaded chain
 * (delivery.ts). Replies outside a turn (a job's report) go out the same way, replying to the
 * person's latest message; made in a process that doesn't hold the intake, they wait in the
 * engine's outbox and the holder is asked to post them at once (waiting.ts).
 *
 * A token pasted into a DM never reaches the engine: it is refused here, before anything is
 * stored, and the person is told to revoke it.
 */
import { randomUUID } from "node:crypto";
import type { ChannelTraits } from "../../chat/channel.js";
import {
  DeliveredElsewhereError,
  type Input,
  type Notifier,
  type NotifyArgs,
  type Reply,
  type UserKey,
} from "../../chat/conversation.js";
import { credentialIn } from "../../chat/credentials.js";
import type { Engine, Turn } from "../../engine/engine.js";
import { log, logContext } from "../../log.js";
import type { Http } from "../../net/http.js";
import type { Store } from "../../store/store.js";
import { withLock } from "../../store/with-lock.js";
import type { OneTimePages } from "../web/one-time.js";
import {
  type Account,
  BotApi,
  type MastodonTokenRefused,
  type Notification,
  type ServerRules,
  type Status,
} from "./api.js";
import { Delivery } from "./delivery.js";
import { Inbox, type Item } from "./inbox.js";
import { toInput } from "./input.js";
import { splitToFit } from "./length.js";
import { People, type Person } from "./people.js";
import { PersonLimit } from "./person-limit.js";
import { quietMentions, render } from "./render.js";
import { statusText } from "./status-text.js";
import { NotificationStream } from "./stream.js";
import { streamingUrl } from "./streaming-url.js";
import { WaitingForHolder } from "./waiting.js";

export interface MastodonDmOptions {
  /** The bot account's server, e.g. https://bots.example */
  url: string;
  token: string;
  engine: Engine;
  store: Store;
  http: Http;
  /** Where a host is reached (the sandbox maps names to local stand-ins). */
  originOf: (host: string) => string;
  /** The web side's one-time pages, when the bot has a public address. */
  pages?: OneTimePages;
  /** How often to read the notifications while streaming is down (and ×10 while up). */
  pollMs?: number;
  /** First reconnect wait. */
  backoffMs?: number;
  /** Messages one person may have answered per minute before the rest wait. */
  perPersonPerMinute?: number;
  /** How long a process that died keeps the channel's lease (as jobs' leases). */
  leaseMs?: number;
  /**
   * Told once when the server refuses the bot account's token (revoked while running): the
   * channel can't go on, and the app stops, saying why, as it does for Telegram's.
   */
  onTokenRefused?: (err: MastodonTokenRefused) => void;
  /** How often the holder looks for replies other processes left it to post. */
  waitingMs?: number;
}

const PUBLIC_POINTER =
  "I only talk in private, so nobody else reads about your move. Send me a direct message (visibility “Specific people” / “Mentioned people only”) that says hi, and we'll begin.";
const SORRY =
  "Sorry, something went wrong on my side and nothing changed. Please try again in a minute.";
const REFUSED: Record<"microblog" | "mastodon", string> = {
  microblog:
    "That looks like a micro.blog app token. I never take tokens by direct message: it stays on the server, where I can't delete it. Please delete your message, and revoke that token at micro.blog → Account → Edit Apps. I've not kept it.",
  mastodon:
    "That looks like an access token. I never take tokens by direct message: it stays on the server, where I can't delete it. Please delete your message, and revoke the token under Preferences → Development (or Account → Authorized apps). I've not kept it.",
};
const PROGRESS_EVERY_MS = 10 * 60_000;
/** A turn's source for the engine: the person's status it answers. */
const STATUS_SOURCE = "status:";
const MAX_WAITING_PER_PERSON = 50;

export class MastodonDmChannel implements Notifier {
  private readonly api: BotApi;
  private readonly inbox: Inbox;
  private readonly people: People;
  private readonly delivery: Delivery;
  private readonly limit: PersonLimit;
  private me?: Account;
  private rules: ServerRules = { version: "0.0.0", maxCharacters: 500, charactersPerUrl: 23 };
  private stream?: NotificationStream;
  private intake: Promise<void> = Promise.resolve();
  private readonly workers = new Map<UserKey, Promise<void>>();
  /** Statuses from the stream and the list, so a turn needn't read them again. */
  private readonly statuses = new Map<string, Status>();
  private readonly progressAt = new Map<string, number>();
  private poll?: NodeJS.Timeout;
  private stopped = false;
  private leased?: Promise<void>;
  private release?: () => void;
  /** This process holds the channel's lease and has loaded the inbox: it alone may add to it. */
  private serving = false;
  private readonly waiting: WaitingForHolder;
  private waitingTimer?: NodeJS.Timeout;
  /** People whose outbox is being delivered on another process's request. */
  private readonly fetching = new Set<UserKey>();
  /** Asked again meanwhile: that delivery may have read their outbox before the new replies. */
  private readonly fetchAgain = new Set<UserKey>();
  /** The item each person's turn is for, while it runs: replies saved before it go ahead of it. */
  private readonly inTurn = new Map<UserKey, string>();
  /** Aborted by stop(): a process waiting for the lease stops waiting. */
  private stopWaiting = new AbortController();

  constructor(private readonly opts: MastodonDmOptions) {
    const origin = new URL(opts.url).origin;
    this.api = new BotApi(opts.http, origin, opts.token, opts.onTokenRefused);
    this.inbox = new Inbox(opts.store, `inbox:${origin}`);
    this.people = new People(opts.store);
    this.delivery = new Delivery(this.api, this.inbox);
    this.limit = new PersonLimit(opts.perPersonPerMinute ?? 20);
    this.waiting = new WaitingForHolder(opts.store, origin);
  }

  /** What a direct message can carry: never a secret; files only as one-time links. */
  traits(user: UserKey): ChannelTraits {
    const pages = this.opts.pages;
    return {
      secretsInChat: false,
      files: pages ? "links" : "none",
      ...(pages
        ? {
            secretForm: (purpose) => pages.secretForm(user, purpose),
            uploadForm: () => pages.uploadForm(user),
          }
        : {}),
    };
  }

  /**
   * Checks the token, then takes the channel's lease (one process per bot account answers its
   * DMs; a restarted process waits for a killed one's lease to run out) and starts listening.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.stopWaiting = new AbortController();
    this.me = await this.api.me();
    this.rules = await this.api.rules();
    let started!: () => void;
    const serving = new Promise<void>((resolve) => {
      started = resolve;
    });
    // Set now, not once serving: a stop() while the lease is being taken must still end it.
    const released = new Promise<void>((resolve) => {
      this.release = resolve;
    });
    this.leased = withLock(
      this.opts.store.locks,
      `mastodon-dm:${this.api.origin}`,
      async (lost, fence) => {
        if (this.stopped) return;
        this.inbox.fence = fence;
        await this.serve();
        // Stopped while it started: what serve() started after halt() is stopped too.
        if (this.stopped) return this.halt();
        started();
        await Promise.race([
          released,
          new Promise<void>((resolve) => lost.addEventListener("abort", () => resolve())),
        ]);
        if (lost.aborted) {
          log.error("mastodon-dm: lost the channel's lease; another process answers now");
          await this.halt();
        }
      },
      {
        ttlMs: this.opts.leaseMs ?? 15_000,
        waitMs: Number.MAX_SAFE_INTEGER,
        signal: this.stopWaiting.signal,
      },
    ).catch((err: unknown) => {
      // Stopped while another process held the lease: nothing was started here.
      if (!this.stopWaiting.signal.aborted) log.error("mastodon-dm: stopped", { err });
    });
    await Promise.race([serving, this.leased]);
  }

  private async serve(): Promise<void> {
    await this.api
      .markBot()
      .catch((err) => log.warn("mastodon-dm: could not mark the account as a bot", { err }));
    const policy = await this.api
      .acceptDirectMessages()
      .catch((err) => log.warn("mastodon-dm: the server refused the notification policy", { err }));
    if (policy === null)
      log.info("mastodon-dm: no notification policy on this server (before 4.3)");
    if (!(await this.inbox.load())) {
      // The very first start: begin with what arrives from now on, not with old mentions
      // ("0" when there are none: every mention from now on is newer).
      await this.inbox.advance((await this.api.newestMention()) ?? "0");
    }
    this.serving = true;
    for (const user of this.inbox.users()) this.kick(user);
    this.stream = new NotificationStream(
      {
        url: streamingUrl(this.rules.streaming, this.api.origin, this.opts.originOf),
        token: this.opts.token,
        dispatcher: this.opts.http.dispatcher,
        backoffMs: this.opts.backoffMs,
      },
      {
        opened: () => this.catchUp(),
        closed: () => this.catchUp(),
        notification: (n) => {
          this.intake = this.intake
            .then(() => this.take(n))
            .catch((err) => log.error("mastodon-dm: intake failed", { err }));
        },
      },
    );
    this.stream.start();
    this.catchUp();
    this.schedulePoll();
    this.lookForWaiting();
    log.info("mastodon-dm: listening", { account: this.me?.acct, server: this.api.origin });
  }

  async stop(): Promise<void> {
    this.stopWaiting.abort();
    await this.halt();
    this.release?.();
    await this.leased;
  }

  private async halt(): Promise<void> {
    this.stopped = true;
    this.serving = false;
    clearTimeout(this.poll);
    clearTimeout(this.waitingTimer);
    this.stream?.stop();
    await this.intake;
    // A worker may be waiting hours for the posting window: what it hasn't done is saved and
    // resumed on the next start, so stopping waits for it only briefly.
    await Promise.race([
      Promise.all(this.workers.values()),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]);
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    const every = this.opts.pollMs ?? 15_000;
    this.poll = setTimeout(
      () => {
        this.catchUp();
        this.schedulePoll();
      },
      this.stream?.up ? every * 10 : every,
    );
  }

  /**
   * Now and every waitingMs while serving: delivers the outbox of each person another process
   * left replies for (through notify, into the inbox, in line with the person's other answers).
   */
  private lookForWaiting(): void {
    if (this.stopped) return;
    void this.waiting
      .take()
      .then((users) => {
        for (const user of users) this.fetchWaiting(user);
      })
      .catch((err: unknown) =>
        log.warn("mastodon-dm: could not read the replies left for this process", { err }),
      )
      .finally(() => {
        if (this.stopped) return;
        this.waitingTimer = setTimeout(() => this.lookForWaiting(), this.opts.waitingMs ?? 500);
        this.waitingTimer.unref();
      });
  }

  /** Delivers one person's outbox on another process's request, people side by side. */
  private fetchWaiting(user: UserKey): void {
    if (this.fetching.has(user)) {
      this.fetchAgain.add(user);
      return;
    }
    this.fetching.add(user);
    void this.opts.engine
      .deliverWaiting(user)
      .catch((err: unknown) =>
        // Still in the outbox: the engine's sweep, or the person's next turn, sends it.
        log.warn("mastodon-dm: could not deliver replies left for this process", { user, err }),
      )
      .finally(() => {
        this.fetching.delete(user);
        if (this.fetchAgain.delete(user) && !this.stopped) this.fetchWaiting(user);
      });
  }

  /** Reads every mention past the cursor, oldest first, in line with the stream's. */
  private catchUp(): void {
    if (this.stopped) return;
    this.intake = this.intake
      .then(async () => {
        while (!this.stopped) {
          const page = await this.api.mentionsAfter(this.inbox.cursor);
          if (page.length === 0) return;
          for (const n of page) await this.take(n);
          await this.inbox.advance(page.at(-1)!.id);
        }
      })
      .catch((err) => log.warn("mastodon-dm: could not read notifications", { err }));
  }

  /** A notification in: taken in (or not) durably before anything else happens. */
  private async take(n: Notification): Promise<void> {
    if (this.inbox.known(n.id)) return;
    const status = n.status;
    const ignored =
      n.type !== "mention" || !status || n.account.id === this.me?.id || n.account.bot === true;
    if (ignored) {
      await this.inbox.take(n.id, null);
      return;
    }
    const user = userKeyOf(n.account);
    if (this.inbox.itemsOf(user).length >= MAX_WAITING_PER_PERSON) {
      log.warn("mastodon-dm: too many messages waiting from one person; dropped", {
        notification: n.id,
      });
      await this.inbox.take(n.id, null);
      return;
    }
    this.statuses.set(status.id, status);
    const base = { id: n.id, user, acct: n.account.acct, replyTo: status.id, posted: [] };
    const item: Item =
      status.visibility === "direct"
        ? { ...base, phase: "received", posts: [] }
        : {
            ...base,
            phase: "delivering",
            posts: this.posts(PUBLIC_POINTER, n.account.acct, `fedimove-${status.id}`),
          };
    await this.inbox.take(n.id, item);
    this.kick(user);
  }

  /** Starts the person's worker unless it runs: their items, one at a time, in order. */
  private kick(user: UserKey): void {
    if (this.workers.has(user) || this.stopped) return;
    const run = (async () => {
      for (
        let item = this.inbox.itemsOf(user)[0];
        item && !this.stopped;
        item = this.inbox.itemsOf(user)[0]
      ) {
        try {
          const current = item;
          await logContext({ notification: current.id }, async () => {
            if (current.phase === "received") {
              await this.limit.wait(user);
              this.inTurn.set(user, current.id);
              await this.turn(current).finally(() => this.inTurn.delete(user));
            } else await this.delivery.deliver(current);
          });
        } catch (err) {
          log.error("mastodon-dm: could not answer; trying again soon", { user, err });
          await new Promise((r) => setTimeout(r, this.opts.backoffMs ?? 1000));
        }
      }
    })().finally(() => this.workers.delete(user));
    this.workers.set(user, run);
  }

  /** One message: read, checked for secrets, through the engine, answered. */
  private async turn(item: Item): Promise<void> {
    const status = this.statuses.get(item.replyTo!) ?? (await this.api.status(item.replyTo!));
    this.statuses.delete(item.replyTo!);
    if (!status) {
      await this.inbox.done(item.id);
      return;
    }
    const botProfiles = status.mentions.filter((m) => m.id === this.me?.id).map((m) => m.url);
    const text = statusText(status.content, [
      ...botProfiles,
      ...(this.me?.url ? [this.me.url] : []),
    ]);
    const key = `fedimove-${status.id}`;
    const secret = credentialIn(text);
    if (secret) {
      log.warn("mastodon-dm: refused a message that held a token", {
        user: item.user,
        kind: secret,
      });
      await this.answer(item, REFUSED[secret], key);
      return;
    }
    const person = await this.people.get(item.user);
    await this.people.set(item.user, {
      acct: item.acct,
      lastStatusId: status.id,
      shown: person?.shown ?? null,
    });
    const input =
      text === ""
        ? ({ kind: "command", name: "start", args: "" } as const)
        : toInput(text, person?.shown ?? undefined);
    try {
      await this.opts.engine.receive(
        item.user,
        input,
        async (t: Turn) => {
          await this.remember(item.user, t.replies, t.seq, {
            acct: item.acct,
            lastStatusId: status.id,
            shown: null,
          });
          const { text: said } = await render(t.replies, this.files(item.user));
          await this.answer(item, said, key);
        },
        // The status, as the input's source: the engine runs it once however often it is read
        // (the stream, the catch-up, a successor's catch-up), and a turn saved but not delivered
        // before a crash is posted by the outbox in reply to it, under the same Idempotency-Keys.
        `${STATUS_SOURCE}${status.id}`,
      );
    } catch (err) {
      log.error("mastodon-dm: turn failed", { user: item.user, err });
      await this.answer(item, SORRY, key);
    }
    if (isForget(input)) {
      await this.people.forget(item.user);
      this.statuses.delete(status.id);
    }
  }

  /**
   * The answer's posts saved with the item, then posted: after the replies the turn found
   * waiting (a job's report another process saved, which the turn delivered first from the
   * outbox, placed ahead of this item by notify).
   */
  private async answer(item: Item, text: string, key: string): Promise<void> {
    const posts = text.trim() === "" ? [] : this.posts(text, item.acct, key);
    await this.inbox.update(item.id, { phase: "delivering", posts });
    for (const ahead of this.inbox.itemsOf(item.user)) {
      if (ahead.id === item.id) break;
      if (ahead.phase === "delivering") await this.delivery.deliver(ahead);
    }
    await this.delivery.deliver({ ...item, phase: "delivering", posts });
  }

  private posts(text: string, acct: string, key: string) {
    const prefix = `@${acct} `;
    return splitToFit(quietMentions(text), prefix, this.rules).map((part, k) => ({
      text: prefix + part,
      key: `${key}-${k}`,
    }));
  }

  private files(user: UserKey) {
    const pages = this.opts.pages;
    return {
      link: async (name: string, bytes: Uint8Array) => {
        if (!pages) return null;
        const { url } = await pages.download(user, name, bytes);
        return { url, hours: 24 };
      },
    };
  }

  /** Keeps the numbered options the person was shown (with their state's stamp). */
  private async remember(user: UserKey, replies: readonly Reply[], seq: number, fallback: Person) {
    const withChoices = replies.filter((r) => r.kind === "say" && r.choices?.length);
    const last = withChoices.at(-1);
    if (last?.kind !== "say") return;
    await this.people.update(user, { shown: { seq, list: [...(last.choices ?? [])] } }, fallback);
  }

  /** Replies outside a turn (a job's report, a reminder): queued, then posted in order. */
  async notify(...[user, replies, seq, messageId]: NotifyArgs): Promise<void> {
    // A process waiting for the lease (or that lost it) has no inbox of its own to add to:
    // written, its empty record would replace the holder's (cursor and all), and its worker
    // would post beside the holder's, out of order. The replies wait in the engine's outbox
    // (saved before this call), and the holder is asked to deliver them now.
    if (!this.serving) {
      await this.waiting.ask(user);
      throw new DeliveredElsewhereError("mastodon-dm: the process holding the DM intake posts");
    }
    const person = await this.people.get(user);
    if (!person) {
      log.warn("mastodon-dm: nobody to notify (forgotten?)", { user });
      return;
    }
    const now = Date.now();
    const kept = replies.filter((r) => {
      if (r.kind !== "progress") return true;
      const at = this.progressAt.get(`${user}:${r.key}`);
      if (at !== undefined && now - at < PROGRESS_EVERY_MS) return false;
      this.progressAt.set(`${user}:${r.key}`, now);
      return true;
    });
    if (kept.length === 0) return;
    if (seq !== undefined) await this.remember(user, kept, seq, person);
    const { text } = await render(kept, this.files(user));
    // The engine's message id, when it has one: handed over again after a crash, it makes the
    // same inbox item and the same Idempotency-Keys, so the server returns what it posted. A
    // turn's replies answer its own status, not the person's latest (which may be newer).
    const status = messageId?.startsWith(STATUS_SOURCE)
      ? messageId.slice(STATUS_SOURCE.length)
      : undefined;
    const id = `n:${status ?? messageId ?? randomUUID()}`;
    // During the person's turn (its flush of the outbox, or a job's report that came just
    // before it): ahead of the message being answered, and posted before its answer.
    await this.inbox.add(
      {
        id,
        user,
        acct: person.acct,
        replyTo: status ?? person.lastStatusId,
        phase: "delivering",
        posts: this.posts(text, person.acct, `fedimove-${id.slice(2)}`),
        posted: [],
      },
      this.inTurn.get(user),
    );
    this.kick(user);
  }
}

/** The person, across servers and renames: their actor URI (4.2+), else their profile. */
export function userKeyOf(account: Account): UserKey {
  return `mastodon:${account.uri ?? account.url ?? account.acct}`;
}

function isForget(input: Input): boolean {
  return (
    (input.kind === "command" && input.name === "forget") ||
    (input.kind === "choice" && input.id === "/forget")
  );
}
