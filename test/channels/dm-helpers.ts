/**
 * A bot on the Mastodon DM channel, in this process, against the Mastodon stand-in: the bot
 * account "movebot", people who write to it, and what they read back.
 */
import { randomBytes } from "node:crypto";
import type { MastodonSandbox } from "../../sandbox/mastodon.js";
import {
  MastodonDmChannel,
  type MastodonDmOptions,
} from "../../src/channels/mastodon-dm/channel.js";
import { OneTimePages } from "../../src/channels/web/one-time.js";
import { createCore } from "../../src/core.js";
import type { Engine } from "../../src/engine/engine.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { Sealer } from "../../src/store/seal.js";
import type { Store } from "../../src/store/store.js";

export const BOT_SCOPES = [
  "read:accounts",
  "read:notifications",
  "read:statuses",
  "write:statuses",
  "write:accounts",
  "write:notifications",
];

export interface DmBot {
  channel: MastodonDmChannel;
  store: Store;
  engine: Engine;
  pages?: OneTimePages;
  close(): Promise<void>;
}

export async function startDmBot(
  sb: MastodonSandbox,
  opts: {
    store?: Store;
    publicUrl?: string;
    extra?: Partial<MastodonDmOptions>;
    /** False: another bot on the same store holds the DM intake; this one waits for its lease. */
    holder?: boolean;
    /** How often the engine sweeps the outboxes (the app's 30 s by default). */
    outboxEveryMs?: number;
  } = {},
): Promise<DmBot> {
  const store = opts.store ?? openMemoryStore();
  const core = createCore({
    store,
    sealer: new Sealer(randomBytes(32)),
    network: {
      allowPrivateNetwork: true,
      timeoutMs: 5000,
      backoffMs: 20,
      pacerMarginMs: 50,
      originOf: (host) =>
        /^127\.0\.0\.1:\d+$/.test(host) ? `http://${host}` : "http://127.0.0.1:9",
    },
  });
  const token = sb.issueToken("movebot", BOT_SCOPES);
  const pages = opts.publicUrl ? new OneTimePages(store, opts.publicUrl) : undefined;
  const channel = new MastodonDmChannel({
    url: sb.url,
    token,
    engine: core.engine,
    store,
    http: core.http,
    // The stand-in plays its domain: its streaming URL (wss://DOMAIN) is reached at it.
    originOf: (host) => (host === sb.domain ? sb.url : `http://${host}`),
    pollMs: 200,
    backoffMs: 50,
    ...(pages ? { pages } : {}),
    ...opts.extra,
  });
  core.engine.notifier = channel;
  core.engine.channels = (user) => channel.traits(user);
  // As the app: the outbox sweep starts at once, in a process waiting for another's lease too
  // (what it finds for a DM user, it asks the holder to send).
  const started = channel.start();
  core.engine.startOutbox(opts.outboxEveryMs);
  // Waiting for the lease, its start settles only when it is closed: a failure then is moot.
  if (opts.holder === false) started.catch(() => {});
  else {
    await started;
    await until(
      () => sb.streamConnections(),
      (n) => n >= 1,
    );
  }
  return {
    channel,
    store,
    engine: core.engine,
    ...(pages ? { pages } : {}),
    async close() {
      core.engine.stop();
      await channel.stop();
      await core.close();
    },
  };
}

/** Waits until `check` holds (polling), or fails with what it last saw. */
export async function until<T>(
  look: () => T,
  check: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = look();
    if (check(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out; last saw ${JSON.stringify(v, null, 1).slice(0, 3000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What the bot posted to `acct`, as plain text, oldest first. */
export function botSaid(sb: MastodonSandbox, acct: string) {
  return sb.mentioning(acct).filter((s) => s.account.acct === "movebot");
}

export function plainOf(html: string): string {
  return html
    .replace(/<br \/>/g, "\n")
    .replace(/<\/p><p>/g, "\n\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}
