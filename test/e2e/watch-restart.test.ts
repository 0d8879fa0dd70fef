/**
 * The transfer watch survives SIGKILL: the real bot process on Telegram, the
 * old server and micro.blog played by the stand-ins (seen through
 * SANDBOX_ORIGINS), the watch killed mid-way and restarted — and the user gets
 * exactly one finished message.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startTelegramSandbox } from "../../sandbox/telegram.js";
import { STATE_VERSION } from "../../src/model/state.js";
import { openStore } from "../../src/store/open-store.js";
import { deriveKey, Sealer } from "../../src/store/seal.js";
import { moveWorlds } from "../helpers/worlds.js";
import { endedAfterEach, startBot } from "./bots.js";

const USER = 777;
const SECRET = "a-test-secret-for-sealing-0123456789";
const openWorld = moveWorlds();
const { killing, closing } = endedAfterEach();

describe("the watch across a SIGKILL", () => {
  it("resumes after the restart and sends exactly one finished message", {
    timeout: 60_000,
  }, async () => {
    const tg = closing(await startTelegramSandbox());
    const world = await openWorld({
      followers: [
        { count: 40, domains: ["a.example"] },
        { count: 4, domains: ["quiet.example"] },
      ],
      silent: ["quiet.example"],
      alias: true,
    });
    const { old } = world;

    // The user is at the Move, as the journey would have left them (tokens sealed with the bot's key).
    const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-e2e-"));
    const store = await openStore(`sqlite:${path.join(dataDir, "fedimove.sqlite")}`);
    const sealer = new Sealer(deriveKey(SECRET));
    await store.namespace("users").set(`tg:${USER}`, {
      v: STATE_VERSION,
      seq: 1,
      history: [],
      updatedAt: Date.now(),
      state: world.stateAt("move", sealer),
    });
    // The snapshot taken before the Move counted 44 followers.
    await store.namespace("snapshots").set(`tg:${USER}`, world.snapshot(44));
    await store.close();

    const env = {
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.url,
      DATA_DIR: dataDir,
      FEDIMOVE_SECRET: SECRET,
      ...world.env,
      LOG_LEVEL: "warn",
      JOB_LEASE_MS: "1500",
      WATCH_POLL_EARLY_MS: "150",
      WATCH_EARLY_FOR_MS: "0",
      WATCH_POLL_LATE_MS: "150",
      WATCH_SETTLE_MS: "1500",
      WATCH_BUDGET_PER_HOUR: "1000000",
    };
    const start = async () => killing(await startBot(env));
    let bot = await start();
    tg.sendText(USER, "/status");
    const moveMsg = await tg
      .waitFor(USER, (m) => m.from === "bot" && /Then tell me\./.test(m.text ?? ""), 20_000)
      .catch((err) => {
        throw new Error(`${err}\n--- bot stderr ---\n${bot.stderr()}`);
      });
    await old.performMove("ada", "ada@mb.example", {
      transfer: { perTick: 8, tickMs: 400, stragglers: ["quiet.example"] },
    });
    const button = moveMsg
      .replyMarkup!.inline_keyboard.flat()
      .find((b) => b.text === "I've moved")!;
    tg.pressButton(USER, moveMsg.messageId, button.callback_data!);
    await tg.waitFor(
      USER,
      (m) => m.from === "bot" && /^Your followers are on their way/.test(m.text ?? ""),
      20_000,
    );

    // Mid-transfer: kill it without warning, then start it again.
    while (old.followersOf("ada").length > 30) await new Promise((r) => setTimeout(r, 50));
    bot.child.kill("SIGKILL");
    await bot.exited;
    bot = await start();

    const finished = await tg.waitFor(
      USER,
      (m) => m.from === "bot" && (m.text ?? "").startsWith("Your move is finished"),
      40_000,
    );
    expect(finished.text).toBe(
      "Your move is finished: 40 of 44 followers moved (91%).\n4 stayed behind:\n• quiet.example: 4 — server not answering\nThe count has stopped changing, so I'm calling it done.",
    );
    await new Promise((r) => setTimeout(r, 1500));
    const all = tg.chat(USER).bot.filter((m) => (m.text ?? "").startsWith("Your move is finished"));
    expect(all).toHaveLength(1);
    expect(tg.chat(USER).bot.filter((m) => m.document?.name === "stayed.csv")).toHaveLength(1);
  });
});
