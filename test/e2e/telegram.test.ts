/**
 * The real bot process (npm start's entry) against the Telegram and Mastodon
 * stand-ins: what a Telegram user sees, from /start to following_accounts.csv.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { mastodonFollowingCsv } from "../../sandbox/mastodon-export.js";
import { type MicroblogSandbox, startMicroblogSandbox } from "../../sandbox/microblog.js";
import {
  type MessageView,
  startTelegramSandbox,
  type TelegramSandbox,
} from "../../sandbox/telegram.js";
import { type Bot, endedAfterEach, startBot } from "./bots.js";

const USER = 4242;
let tg: TelegramSandbox | undefined;
let masto: MastodonSandbox | undefined;
let mb: MicroblogSandbox | undefined;
const { killing, closing } = endedAfterEach();

/** The bot on the Telegram stand-in, with its state in `dataDir` (kept across a restart). */
async function start(dataDir: string, extra: Record<string, string> = {}): Promise<Bot> {
  const bot = await startBot({
    TELEGRAM_BOT_TOKEN: tg!.token,
    TELEGRAM_API_ROOT: tg!.url,
    DATA_DIR: dataDir,
    HTTP_TIMEOUT_MS: "5000",
    ...extra,
  });
  return killing(bot);
}

const textOf = (m: MessageView) => m.text ?? "";

async function botSays(pattern: RegExp, timeoutMs = 20_000): Promise<MessageView> {
  return tg!.waitFor(USER, (m) => m.from === "bot" && pattern.test(textOf(m)), timeoutMs);
}

function press(message: MessageView, label: string): void {
  const button = message.replyMarkup?.inline_keyboard.flat().find((b) => b.text === label);
  if (!button?.callback_data) throw new Error(`no button ${label}`);
  tg!.pressButton(USER, message.messageId, button.callback_data);
}

describe("Telegram end to end", () => {
  it("a user starts, connects with a token and receives the CSV Mastodon would export", async () => {
    tg = closing(await startTelegramSandbox());
    masto = closing(await startMastodonSandbox({ domain: "hachyderm.example", rateLimit: null }));
    masto.addAccount({ username: "ada" });
    const follows = masto.seedFollows("ada", 412);
    const token = masto.issueToken("ada", ["read:accounts", "read:follows"]);
    const bot = await start(mkdtempSync(path.join(tmpdir(), "fedimove-e2e-")));

    tg.sendText(USER, "/start");
    const hello = await botSays(/^Hi! I'll move your Mastodon account/);
    expect(tg.commands().map((c) => c.command)).toEqual([
      "start",
      "status",
      "back",
      "cancel",
      "forget",
      "help",
    ]);
    expect(textOf(hello)).toMatch(/Which Mastodon server is your account on\?/);

    tg.sendText(USER, "<b>not a server</b>");
    await botSays(/doesn't look like a server name/);

    tg.sendPhoto(USER);
    await botSays(/^I can't use a photo here\. Nothing changed\./);

    tg.sendText(USER, masto.url);
    press(await botSays(/^Tap to let me read your account/), "Paste a token instead");
    const ask = await botSays(/^To read your account, I need an access token/);
    expect(ask.html).toContain(
      "<code>read:accounts read:follows read:lists read:blocks read:mutes read:bookmarks</code>",
    );

    const secret = tg.sendText(USER, token) as { message_id: number };
    await botSays(/^Signed in as @ada@hachyderm\.example\./);
    const doc = await tg.waitFor(USER, (m) => m.from === "bot" && m.kind === "document");
    expect(doc.document?.name).toBe("following_accounts.csv");
    expect(doc.document?.bytes.toString("utf8")).toBe(
      mastodonFollowingCsv(follows, "hachyderm.example"),
    );
    await botSays(/^Moving to micro\.blog\?/);
    const zip = await tg.waitFor(
      USER,
      (m) => m.kind === "document" && m.document?.name?.endsWith(".zip") === true,
    );
    expect(zip.document?.name).toMatch(/^hachyderm\.example-ada-\d{4}-\d\d-\d\d\.zip$/);

    // The message that carried the token is gone, and no bot message repeats it.
    const chat = tg.chat(USER);
    expect(chat.user.find((m) => m.messageId === secret.message_id)?.deleted).toBe(true);
    expect(chat.bot.some((m) => textOf(m).includes(token))).toBe(false);
    expect(bot.stderr()).not.toContain(token);

    // A button of an earlier message is answered, and nothing moves.
    press(hello, "What changes exactly?");
    await botSays(/^That button belongs to an earlier message/);

    bot.child.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("a bot killed mid-export resumes after restart and sends the CSV exactly once", async () => {
    tg = closing(await startTelegramSandbox());
    masto = closing(await startMastodonSandbox({ domain: "slow.example", rateLimit: null }));
    masto.addAccount({ username: "bob" });
    const follows = masto.seedFollows("bob", 2000);
    const token = masto.issueToken("bob", ["read"]);
    const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-e2e-"));
    // A short lease, so the restarted process may take the job over soon after the kill.
    let bot = await start(dataDir, { JOB_LEASE_MS: "2000" });

    tg.sendText(USER, "/start");
    await botSays(/^Hi!/);
    tg.sendText(USER, masto.url);
    press(await botSays(/^Tap to let me read your account/), "Paste a token instead");
    await botSays(/access token/);
    masto.setLatency(150);
    tg.sendText(USER, token);
    await botSays(/^Signed in as @bob@slow\.example/);
    // Wait until progress has been saved (every 2 s: ten pages at 300 ms a page), then kill without warning.
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (masto!.requests.filter((q) => q.path.includes("/following")).length >= 10) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    bot.child.kill("SIGKILL");
    await bot.exited;
    const pagesBefore = masto.requests.filter((q) => q.path.includes("/following")).length;
    masto.setLatency(0);

    bot = await start(dataDir, { JOB_LEASE_MS: "2000" });
    const doc = await tg.waitFor(USER, (m) => m.from === "bot" && m.kind === "document", 30_000);
    expect(doc.document?.bytes.toString("utf8")).toBe(
      mastodonFollowingCsv(follows, "slow.example"),
    );
    // It resumed: the whole list is 26 pages, and the restart did not start from page one.
    const pages = masto.requests.filter((q) => q.path.includes("/following"));
    expect(pages.length).toBeLessThan(26 + pagesBefore);
    expect(pages.filter((q) => !q.path.includes("max_id")).length).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    const docs = tg.chat(USER).bot.filter((m) => m.kind === "document");
    expect(
      docs.map((d) => (d.document?.name?.endsWith(".zip") ? "zip" : d.document?.name)),
    ).toEqual(["following_accounts.csv", "zip"]);
  });

  it("an import killed mid-way resumes after restart: no account followed twice, one report", async () => {
    tg = closing(await startTelegramSandbox());
    masto = closing(await startMastodonSandbox({ rateLimit: null }));
    mb = closing(await startMicroblogSandbox({ rateLimit: null, domain: "mb.example" }));
    const token = mb.addUser("ada");
    const accts = Array.from({ length: 60 }, (_, k) => `friend${k}@far.example`);
    for (const a of accts) mb.addRemote(a, { exists: true });
    const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-e2e-"));
    const env = { JOB_LEASE_MS: "2000", MICROBLOG_URL: mb.url, MICROBLOG_DOMAIN: "mb.example" };
    let bot = await start(dataDir, env);

    tg.sendText(USER, "/start");
    await botSays(/^Hi!/);
    tg.sendText(USER, masto.url);
    press(await botSays(/^Tap to let me read your account/), "Upload a file instead");
    await botSays(/^Send me your follows as a file/);
    const csv = `Account address,Show boosts,Notify on new posts,Languages\n${accts.map((a) => `${a},true,false,`).join("\n")}\n`;
    tg.sendDocument(USER, {
      name: "following_accounts.csv",
      bytes: new TextEncoder().encode(csv),
      mimeType: "text/csv",
    });
    await botSays(/^Read 60 accounts from following_accounts\.csv\./);
    await botSays(/^Moving to micro\.blog\?/);
    tg.sendText(USER, token);
    mb.setLatency(60);
    press(
      await botSays(/^I'll follow your 60 accounts on @ada@mb\.example\./),
      "Follow them, try it first",
    );

    const follows = () =>
      mb!.requests.filter((q) => q.method === "POST" && q.path.startsWith("/users/follow"));
    while (follows().length < 15) await new Promise((r) => setTimeout(r, 20));
    bot.child.kill("SIGKILL");
    await bot.exited;
    mb.setLatency(0);
    bot = await start(dataDir, env);

    const report = await botSays(/^Done: /, 30_000);
    expect(textOf(report)).toBe("Done: 60 followed.");
    expect(new Set(mb.followingOf("ada"))).toEqual(new Set(accts));
    // Followed twice = two follow requests that the server answered (one cut off by the kill
    // before micro.blog answered had no effect, and its account is asked about, then followed).
    const answered = follows().filter((q) => q.status !== 0);
    const posted = answered.map((q) => new URL(q.path, mb!.url).searchParams.get("username"));
    expect(posted.length).toBe(new Set(posted).size);
    await new Promise((r) => setTimeout(r, 500));
    expect(tg.chat(USER).bot.filter((m) => textOf(m).startsWith("Done: "))).toHaveLength(1);
  });
});
