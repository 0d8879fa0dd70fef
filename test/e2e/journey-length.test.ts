/**
 * How many messages a person sends from /start to the confirmed Move, signing in by
 * OAuth and moving to micro.blog with nothing going wrong: nine at most, /start
 * included, on every channel — each one a round trip, and on Mastodon DMs a slow one.
 * Telegram (the real process, against the Telegram stand-in: the code pasted, the
 * bot's callback page with PUBLIC_URL, or a pasted token) and the terminal (the
 * console channel of the real app) are counted here; the
 * Mastodon DM channel in demo-dm.test.ts, the terminal with a pasted token in
 * demo-journey.test.ts. No check is skipped on the way: the alias is verified, the
 * pre-flight checks are shown, and the warning is confirmed.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";
import { type App, createApp } from "../../src/app.js";
import { readConfig } from "../../src/config.js";
import { setLogLevel } from "../../src/log.js";
import { type MoveWorld, startMoveWorld } from "../helpers/worlds.js";
import { freePort, killAll, startBot } from "./bots.js";
import { AUTHORIZE, telegramPerson, toMove, toPreview, toSignIn } from "./journey.js";
import type { Proc } from "./process.js";

const USER = 5151;
const FOLLOW_DOMAINS = ["one.example", "two.example"];
const procs: Proc[] = [];
let tg: TelegramSandbox | undefined;
let world: MoveWorld | undefined;
let app: App | undefined;

afterEach(async () => {
  await killAll(procs);
  await app?.stop();
  app = undefined;
  await tg?.close();
  tg = undefined;
  await world?.close();
  world = undefined;
});

/** Ada on old.example with 20 follows micro.blog can find, and her app token on mb.example. */
async function moveWorld(): Promise<{ w: MoveWorld; env: Record<string, string> }> {
  const w = await startMoveWorld();
  const follows = w.old.seedFollows("ada", 20, { domains: FOLLOW_DOMAINS });
  for (const f of follows) w.mb.addRemote(f.targetAcct, { exists: true });
  // The follows' servers answer (played by the old server's stand-in): no DNS is asked.
  for (const d of FOLLOW_DOMAINS) w.origins[d] = w.old.url;
  const env = { ...w.env, SANDBOX_ORIGINS: JSON.stringify(w.origins) };
  world = w;
  return { w, env };
}

const textOf = (m: { text?: string }) => m.text ?? "";

describe("Telegram: the journey's length", () => {
  const how = {
    code: "OAuth, pasting the code",
    callback: "OAuth, the bot's callback page finishing it (PUBLIC_URL)",
    token: "a pasted token",
  };
  for (const via of ["code", "callback", "token"] as const) {
    it(`from /start to the confirmed Move in at most 9 messages (signing in by ${how[via]})`, {
      timeout: 90_000,
    }, async () => {
      const { w, env } = await moveWorld();
      tg = await startTelegramSandbox({ allowLoopbackHttp: true });
      const port = await freePort();
      const web: Record<string, string> =
        via === "callback" ? { PUBLIC_URL: `http://127.0.0.1:${port}`, PORT: `${port}` } : {};
      const bot = await startBot({
        ...env,
        ...web,
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.url,
        HTTP_TIMEOUT_MS: "5000",
      });
      procs.push(bot);
      const ada = telegramPerson(tg, USER, [bot], 20_000);
      const { sent } = ada;

      const { signIn, url } = await toSignIn(ada);
      if (via === "code") {
        ada.send(w.old.authorize("ada", url!).code, "<code>");
      } else if (via === "callback") {
        // She approves in her browser, which goes back to the bot's page: nothing to paste.
        expect(textOf(signIn)).toMatch(/I'll carry on by myself once you approve/);
        const page = await fetch(w.old.authorize("ada", url!).redirectTo);
        expect(page.status).toBe(200);
      } else {
        ada.press(signIn, "Paste a token instead");
        await ada.says(/access token/);
        ada.send(w.old.issueToken("ada", ["read"]), "<token>");
      }
      const preview = await toPreview(ada, w);
      w.mb.addAlias("ada", w.old.actorUri("ada")); // on micro.blog's page, while the bot follows
      ada.press(preview, "Follow them, then move");
      await ada.says(/^Done: 20 followed\./);
      await toMove(ada, w);
      await tg.waitFor(
        USER,
        (m) =>
          m.from === "bot" &&
          /^✅ @ada@old\.example has moved to @ada@mb\.example\./.test(m.text ?? ""),
        30_000,
      );

      console.info(`Telegram, ${via}: ${sent.length} messages:`, sent);
      const signingIn = {
        code: ["<code>"],
        callback: [],
        token: ["[Paste a token instead]", "<token>"],
      }[via];
      expect(sent).toEqual([
        "/start",
        "old.example",
        ...signingIn,
        "<app token>",
        "[Follow them, then move]",
        "[Both done]",
        "[I understand — move]",
        "[I've moved]",
      ]);
      expect(sent.length).toBeLessThanOrEqual(9);
      // What the sandbox saw agrees: typed messages and button presses, nothing else.
      const typed = tg.chat(USER).user.length;
      const pressed = tg.callsTo("answerCallbackQuery").length;
      expect(typed + pressed).toBe(sent.length);
    });
  }
});

describe("the terminal: the journey's length", () => {
  it("from the start to the confirmed Move in at most 9 messages, signing in by OAuth", {
    timeout: 60_000,
  }, async () => {
    const { w, env } = await moveWorld();
    const input = new PassThrough();
    const output = new PassThrough();
    let out = "";
    output.on("data", (d: Buffer) => {
      out += d.toString();
    });
    setLogLevel("warn");
    const config = readConfig({
      ...env,
      FEDIMOVE_CHANNEL: "console",
      STORE_URL: "memory:",
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "fedimove-length-")),
      FEDIMOVE_SECRET: "a-test-secret-of-enough-length",
      LOG_LEVEL: "warn",
    });
    app = await createApp(config, { input, output });
    const running = app.run();
    // The terminal says /start by itself when it opens: her first message.
    const sent: string[] = ["/start"];
    let mark = 0;
    const waitFor = async (pattern: RegExp) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const m = pattern.exec(out.slice(mark));
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const type = (line: string, shown = line) => {
      sent.push(shown);
      mark = out.length;
      input.write(`${line}\n`);
    };

    await waitFor(/Which Mastodon server is your account on\?/);
    type("old.example");
    const [url] = await waitFor(AUTHORIZE);
    type(w.old.authorize("ada", url).code, "<code>");
    await waitFor(/Moving to micro\.blog\?/);
    type(w.appToken, "<app token>");
    await waitFor(/\[1\] Follow them, then move/);
    w.mb.addAlias("ada", w.old.actorUri("ada"));
    type("1", "1 (Follow them, then move)");
    await waitFor(/Two things on micro\.blog before the move:[\s\S]*\[1\] Both done/);
    type("1", "1 (Both done)");
    await waitFor(/Before the move — all clear:[\s\S]*\[1\] I understand — move/);
    type("1", "1 (I understand — move)");
    await waitFor(/Now open old\.example's move page[\s\S]*\[1\] I've moved/);
    await w.old.performMove("ada", "ada@mb.example");
    type("1", "1 (I've moved)");
    await waitFor(/✅ @ada@old\.example has moved to @ada@mb\.example\./);

    console.info(`terminal, OAuth: ${sent.length} messages:`, sent);
    expect(sent).toEqual([
      "/start",
      "old.example",
      "<code>",
      "<app token>",
      "1 (Follow them, then move)",
      "1 (Both done)",
      "1 (I understand — move)",
      "1 (I've moved)",
    ]);
    expect(sent.length).toBeLessThanOrEqual(9);
    input.end();
    await running;
  });
});
