/**
 * The real bot process (npm start with only MASTODON_BOT_URL and MASTODON_BOT_TOKEN) against
 * the Mastodon stand-in, as a person on Mastodon meets it: the journey by direct message to the
 * import step, a kill and restart with messages sent while it was down, the stream dropping
 * mid-conversation, and a token pasted into a DM.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { BOT_SCOPES, botSaid, plainOf, until } from "../channels/dm-helpers.js";
import { type Proc, startProcess } from "./process.js";

const opened: MastodonSandbox[] = [];
const procs: Proc[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.child.kill("SIGKILL");
    await p.exited;
  }
  for (const s of opened.splice(0)) await s.close();
});

async function sandbox(domain: string): Promise<MastodonSandbox> {
  const sb = await startMastodonSandbox({ domain, rateLimit: null });
  opened.push(sb);
  return sb;
}

function startBot(sb: MastodonSandbox, token: string, dataDir: string): Proc {
  const bot = startProcess("src/main.ts", {
    MASTODON_BOT_URL: sb.url,
    MASTODON_BOT_TOKEN: token,
    DATA_DIR: dataDir,
    ALLOW_PRIVATE_NETWORK: "true",
    LOG_LEVEL: "info",
    HTTP_TIMEOUT_MS: "5000",
    MASTODON_POLL_MS: "300",
    // A short lease, so the restarted process takes the channel over soon after the kill.
    JOB_LEASE_MS: "2000",
    // The stand-in plays bots.example: its streaming URL (wss://bots.example) is reached there.
    SANDBOX_ORIGINS: JSON.stringify({ "bots.example": sb.url }),
  });
  procs.push(bot);
  return bot;
}

/** A person on the stand-in who writes to the bot and reads its answers. */
function person(sb: MastodonSandbox, username: string) {
  let last: string | undefined;
  return {
    /** Sends a DM (replying to the bot's latest answer) and returns its id. */
    send(text: string): string {
      const said = botSaid(sb, username);
      last = said.at(-1)?.id;
      return sb.postAs(username, `@movebot ${text}`, {
        visibility: "direct",
        ...(last ? { inReplyToId: last } : {}),
      }).id;
    },
    /** Waits for an answer (the latest) matching `pattern`; returns its plain text. */
    async reads(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
      const said = await until(
        () => botSaid(sb, username).map((s) => plainOf(s.content).replaceAll("\u200B", "")),
        (t) => t.some((x) => pattern.test(x)),
        timeoutMs,
      );
      return said.find((x) => pattern.test(x))!;
    },
    answersTo(statusId: string) {
      return botSaid(sb, username).filter((s) => s.in_reply_to_id === statusId);
    },
  };
}

describe("Mastodon DM end to end", () => {
  it("walks to the import step by DM; a kill and restart answers what came meanwhile once, in order; a dropped stream loses nothing", async () => {
    const sb = await sandbox("bots.example");
    const target = await sandbox("new.example");
    sb.addAccount({ username: "movebot" });
    sb.addAccount({ username: "ada" });
    sb.seedFollows("ada", 30);
    target.addAccount({ username: "ada" });
    const token = sb.issueToken("movebot", BOT_SCOPES);
    const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-dm-"));
    let bot = startBot(sb, token, dataDir);
    await until(
      () => sb.streamConnections(),
      (n) => n === 1,
      20_000,
    );
    const ada = person(sb, "ada");

    ada.send("hello");
    await ada.reads(
      /^@ada Hi! I'll move your Mastodon account[\s\S]*Which Mastodon server is your account on\?/,
    );

    // Killed without warning; two messages arrive while it is down.
    bot.child.kill("SIGKILL");
    await bot.exited;
    const first = ada.send("not a server!");
    const second = ada.send(sb.url);
    bot = startBot(sb, token, dataDir);
    const signIn = await ada.reads(/Tap to let me read your account/).catch((e) => {
      throw new Error(`${e}\n${bot.stderr()}`);
    });
    await until(
      () => [ada.answersTo(first).length, ada.answersTo(second).length],
      ([a, b]) => a === 1 && b === 1,
    );
    expect(plainOf(ada.answersTo(first)[0]!.content)).toMatch(/doesn't look like a server name/);
    expect(BigInt(ada.answersTo(first)[0]!.id)).toBeLessThan(BigInt(ada.answersTo(second)[0]!.id));

    // Sign in by link: the person approves, and pastes the code the server shows.
    const url = /https?:\/\/\S+\/oauth\/authorize\S+/.exec(signIn)![0];
    expect(signIn).not.toContain("Paste a token");
    const { code } = sb.authorize("ada", url);
    ada.send(code);
    await ada.reads(/Signed in as @ada@bots\.example/);
    const saved = await ada.reads(/following_accounts\.csv/);
    expect(saved).toContain("can't carry a file");
    await ada.reads(/Where are you moving to\?/);

    // The stream drops mid-conversation; what is sent meanwhile is answered once.
    await until(
      () => sb.streamConnections(),
      (n) => n === 1,
    );
    sb.dropStreams();
    const during = ada.send("2");
    await ada.reads(/Which server is your new account on|new account/i);
    await until(
      () => sb.streamConnections(),
      (n) => n === 1,
    );
    await new Promise((r) => setTimeout(r, 800));
    expect(ada.answersTo(during)).toHaveLength(1);

    ada.send(target.url);
    const newSignIn = await ada.reads(/Tap to let me follow accounts for you/);
    const newUrl = /https?:\/\/\S+\/oauth\/authorize\S+/.exec(newSignIn)![0];
    ada.send(target.authorize("ada", newUrl).code);
    await ada.reads(/Connected: your new account is @ada@new\.example/);
    await ada.reads(/I'll follow your 30 accounts on @ada@new\.example/, 30_000);

    // Every answer was direct, threaded and mentioned the person, once per message.
    const all = botSaid(sb, "ada");
    for (const s of all) {
      expect(s.visibility).toBe("direct");
      expect(s.in_reply_to_id).not.toBeNull();
      expect(s.mentions.map((m) => (m as { acct: string }).acct)).toEqual(["ada"]);
    }
    bot.child.kill("SIGTERM");
    expect((await bot.exited).code).toBe(0);
  });

  it("refuses a token pasted into a DM; it is found nowhere in the store or the logs", async () => {
    const sb = await sandbox("bots.example");
    sb.addAccount({ username: "movebot" });
    sb.addAccount({ username: "ada" });
    const token = sb.issueToken("movebot", BOT_SCOPES);
    const pasted = sb.issueToken("ada", ["read"]);
    const microblogToken = "8F3A2B1C9D0E7F6A5B4C3D2E1F0A9B8C";
    const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-dm-"));
    const bot = startBot(sb, token, dataDir);
    await until(
      () => sb.streamConnections(),
      (n) => n === 1,
      20_000,
    );
    const ada = person(sb, "ada");
    ada.send("hi");
    await ada.reads(/Hi! I'll move/);
    const m1 = ada.send(`here is my token ${pasted}`);
    const m2 = ada.send(microblogToken);
    await until(
      () => [ada.answersTo(m1).length, ada.answersTo(m2).length],
      ([a, b]) => a === 1 && b === 1,
    );
    expect(plainOf(ada.answersTo(m1)[0]!.content)).toMatch(
      /never take tokens by direct message.*revoke/s,
    );
    expect(plainOf(ada.answersTo(m2)[0]!.content)).toMatch(/micro\.blog app token.*revoke/s);
    bot.child.kill("SIGTERM");
    await bot.exited;
    for (const s of botSaid(sb, "ada")) {
      expect(s.content).not.toContain(pasted);
      expect(s.content).not.toContain(microblogToken);
    }
    const files = readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((e) =>
      e.isFile(),
    );
    for (const f of files) {
      const bytes = readFileSync(path.join(f.parentPath, f.name)).toString("latin1");
      expect(bytes).not.toContain(pasted);
      expect(bytes).not.toContain(microblogToken);
    }
    expect(bot.stderr()).not.toContain(pasted);
    expect(bot.stderr()).not.toContain(microblogToken);
    expect(bot.stdout()).not.toContain(pasted);
  });
});
