/**
 * The app's outbox in a process that waits for the DM intake (another process holds it, as in
 * any deployment of two or more): replies a process saved but could not send to a Telegram user
 * (flood control put them off for an hour) go out from here all the same, at start, not only
 * when that person writes again — and were kept, not dropped as if Telegram had refused them.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startMastodonSandbox } from "../../sandbox/mastodon.js";
import { startTelegramSandbox } from "../../sandbox/telegram.js";
import { type App, createApp } from "../../src/app.js";
import { readConfig } from "../../src/config.js";
import { setLogLevel } from "../../src/log.js";
import { openStore } from "../../src/store/open-store.js";
import { withLock } from "../../src/store/with-lock.js";
import { BOT_SCOPES } from "../channels/dm-helpers.js";

const apps: App[] = [];
const open: { close(): Promise<unknown> }[] = [];
const closing = <T extends { close(): Promise<unknown> }>(x: T): T => {
  open.push(x);
  return x;
};
afterEach(async () => {
  for (const a of apps.splice(0)) await a.stop();
  for (const x of open.splice(0).reverse()) await x.close();
});

const USER = 4242;

describe("a process waiting for the DM intake", () => {
  it("sends what waits in the outbox for Telegram users at start", {
    timeout: 30_000,
  }, async () => {
    setLogLevel("error");
    const tg = closing(await startTelegramSandbox({ allowLoopbackHttp: true }));
    const sb = closing(await startMastodonSandbox({ domain: "bots.example", rateLimit: null }));
    sb.addAccount({ username: "movebot" });
    const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-app-outbox-"));
    const env = {
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.url,
      STORE_URL: `sqlite:${path.join(dataDir, "state.sqlite")}`,
      DATA_DIR: dataDir,
      FEDIMOVE_SECRET: "a-test-secret-of-enough-length",
      HTTP_TIMEOUT_MS: "5000",
      LOG_LEVEL: "error",
    };

    // The first process answers /start while Telegram's flood control puts every message off
    // for an hour (past auto-retry's bound); it stops with the answer in the outbox.
    tg.failNext("sendMessage", { status: 429, retryAfter: 3_600, times: 1_000 });
    const first = await createApp(readConfig(env));
    apps.push(first);
    void first.run();
    tg.sendText(USER, "/start");
    const deadline = Date.now() + 15_000;
    while (tg.callsTo("sendMessage").length === 0) {
      if (Date.now() > deadline) throw new Error("the first process never tried to answer");
      await new Promise((r) => setTimeout(r, 25));
    }
    await apps.pop()!.stop();
    tg.clearFaults();
    expect(tg.chat(USER).bot).toHaveLength(0);
    // Its next poll would have told Telegram the update arrived (its turn was saved): told now,
    // so that the next process is not handed /start again (which would flush the outbox too).
    const ids = tg.pendingUpdates().map((u) => Number(u.update_id));
    if (ids.length > 0) {
      const confirm = `${tg.url}/bot${tg.token}/getUpdates?timeout=0&offset=${Math.max(...ids) + 1}`;
      expect((await fetch(confirm)).ok).toBe(true);
    }
    expect(tg.pendingUpdates()).toEqual([]);

    // Another process holds the DM intake for as long as the test runs.
    const holder = await openStore(env.STORE_URL);
    closing({ close: () => holder.close() });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let taken!: () => void;
    const isTaken = new Promise<void>((resolve) => {
      taken = resolve;
    });
    const leased = withLock(
      holder.locks,
      `mastodon-dm:${new URL(sb.url).origin}`,
      async () => {
        taken();
        await held;
      },
      { ttlMs: 60_000 },
    );
    closing({
      close: async () => {
        release();
        await leased;
      },
    });
    await isTaken;

    const second = await createApp(
      readConfig({
        ...env,
        MASTODON_BOT_URL: sb.url,
        MASTODON_BOT_TOKEN: sb.issueToken("movebot", BOT_SCOPES),
        SANDBOX_ORIGINS: JSON.stringify({ "bots.example": sb.url }),
      }),
    );
    apps.push(second);
    const running = second.run();
    running.catch(() => undefined);
    const welcome = await tg.waitFor(USER, () => true, 10_000);
    expect(welcome.text).toMatch(/Mastodon/);
    // Still waiting for the intake: nothing here reads the bot account's DMs.
    expect(await Promise.race([running.then(() => "ran"), Promise.resolve("waiting")])).toBe(
      "waiting",
    );
  });
});
