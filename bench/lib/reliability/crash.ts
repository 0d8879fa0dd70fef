/**
 * Crashes: the real bot (src/main.ts, a child process on Telegram) against the stand-ins, which
 * run here, in another process. People walk the whole journey through the Telegram stand-in —
 * reading the bot's messages and pressing its buttons — while the bot is SIGKILLed at random
 * moments and started again at once. Afterwards: every journey finished, every follow made
 * once, every follower moved, exactly one finished message each, and no bot message sent twice
 * in a row that the person didn't ask for again (see repeats()). And
 * every bot process's output, the killed ones' too: no unhandled rejection or uncaught exception
 * (Node prints one and exits), no process that ended by itself, and none of the tokens the bot
 * was given or handed (its Telegram token, its secret, each person's tokens) anywhere in it.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { seeded } from "../../../sandbox/chaos.js";
import { startTelegramSandbox, type TelegramSandbox } from "../../../sandbox/telegram.js";
import type { MessageView } from "../../../sandbox/telegram-types.js";
import type { StepName } from "../../../src/model/state.js";
import { openStore } from "../../../src/store/open-store.js";
import type { Store } from "../../../src/store/store.js";
import { type Proc, startProcess } from "../../../test/e2e/process.js";
import { WAITING } from "./journey.js";
import { type Person, startTown, type Town } from "./town.js";

const SECRET = "a-reliability-secret-for-sealing-0123456789";
const FINISHED = /^Your move is finished: (\d+) of (\d+) followers moved/;

export interface CrashRun {
  people: number;
  /** How many times the bot is killed. */
  kills: number;
  seed: number;
  /** The longest the bot lives between two kills; the shortest is a fifth of it. */
  maxLifeMs?: number;
  deadlineMs?: number;
}

export interface CrashFigures {
  journeys: number;
  finished: number;
  crashesSurvived: number;
  lost: number;
  /** Follows sent twice and finished messages beyond the first. */
  duplicates: number;
  /** Bot messages sent again right after themselves that no input of the person's asked for (a reply repeated). */
  repeatedReplies: number;
  /** Bot messages the same as the one before, asked for or not. */
  sameInARow: number;
  /** Unhandled rejections and uncaught exceptions in the bot processes' output, and exits of their own. */
  problems: number;
  /** Tokens found in the bot processes' output. */
  secretsFound: number;
  /** How much output was searched, across every process. */
  logChars: number;
  notes: string[];
}

/** What Node prints when a rejection or an exception nobody handled ends the process. */
const FATAL =
  /UnhandledPromiseRejection|unhandledRejection|uncaughtException|triggerUncaughtException|^Node\.js v\d+|"msg":"fatal"/gm;

/** What the person does at each step, on Telegram: the button to press or what to type. */
function actionAt(step: StepName, p: Person, town: Town): { press: string[] } | { type: string } {
  const { old, mb } = town.world;
  switch (step) {
    // The welcome asks for the server at once.
    case "welcome":
    case "old-server":
      return { type: old.domain };
    case "old-sign-in":
      return { press: ["Paste a token instead"] };
    case "old-token":
      return { type: p.oldToken };
    case "new-choose":
      return { press: ["micro.blog"] };
    case "new-microblog":
      return { type: p.appToken };
    case "new-microblog-handle":
      return { press: [`@${p.username}@${mb.domain}`] };
    case "import-preview":
      return { press: ["Follow them, then move"] };
    case "import-done":
    case "trying":
      return { press: ["Move now"] };
    case "alias":
      return { press: ["Both done", "Done", "Check again"] };
    case "preflight":
      return { press: ["I understand — move"] };
    case "move":
      return { press: ["I've moved"] };
    default:
      return { type: "/status" };
  }
}

export async function runCrashes(run: CrashRun): Promise<CrashFigures> {
  const random = seeded(run.seed);
  const town = await startTown({ people: run.people, follows: 6, followers: 8 });
  const tg: TelegramSandbox = await startTelegramSandbox();
  const dataDir = mkdtempSync(path.join(tmpdir(), "fedimove-crash-"));
  const env = {
    TELEGRAM_BOT_TOKEN: tg.token,
    TELEGRAM_API_ROOT: tg.url,
    DATA_DIR: dataDir,
    FEDIMOVE_SECRET: SECRET,
    ...town.world.env,
    // Everything logged is searched for secrets, so the more the better.
    LOG_LEVEL: "info",
    JOB_LEASE_MS: "1500",
    WATCH_POLL_EARLY_MS: "150",
    WATCH_EARLY_FOR_MS: "0",
    WATCH_POLL_LATE_MS: "150",
    WATCH_SETTLE_MS: "1500",
    WATCH_BUDGET_PER_HOUR: "1000000",
  };
  const figures: CrashFigures = {
    journeys: run.people,
    finished: 0,
    crashesSurvived: 0,
    lost: 0,
    duplicates: 0,
    repeatedReplies: 0,
    sameInARow: 0,
    problems: 0,
    secretsFound: 0,
    logChars: 0,
    notes: [],
  };
  const bots: Proc[] = [];
  const begin = () => {
    const p = startProcess("src/main.ts", env);
    bots.push(p);
    return p;
  };
  let bot: Proc = begin();
  let store: Store | undefined;
  const ids = town.people.map((_, i) => 4200 + i);
  /** Per person, how many bot messages they had seen at each button press. */
  const presses = new Map<number, number[]>(ids.map((id) => [id, []]));
  try {
    const file = path.join(dataDir, "fedimove.sqlite");
    for (let waited = 0; !existsSync(file) && waited < 30_000; waited += 100)
      await new Promise((r) => setTimeout(r, 100));
    store = await openStore(`sqlite:${file}`);
    const users = store.namespace("users");
    const lastActed = new Map<number, { step: StepName | undefined; at: number; bot: number }>();
    const stepOf = async (id: number) =>
      ((await users.get(`tg:${id}`)) as { state?: { step: StepName } } | undefined)?.state?.step;
    for (const id of ids) {
      tg.sendText(id, "/start");
      lastActed.set(id, { step: undefined, at: Date.now(), bot: 0 });
    }

    const deadline = Date.now() + (run.deadlineMs ?? 240_000);
    const maxLife = run.maxLifeMs ?? 4000;
    let nextKill = Date.now() + maxLife * (0.2 + 0.8 * random());
    const moved = new Set<string>();
    for (;;) {
      if (Date.now() > deadline) break;
      const steps = await Promise.all(ids.map(stepOf));
      if (steps.every((s) => s === "finished") && figures.crashesSurvived >= run.kills) break;
      if (figures.crashesSurvived < run.kills && Date.now() >= nextKill) {
        if (bot.child.exitCode !== null) {
          figures.problems += 1;
          figures.notes.push(`the bot ended by itself (exit code ${bot.child.exitCode})`);
        }
        bot.child.kill("SIGKILL");
        await bot.exited;
        figures.crashesSurvived += 1;
        bot = begin();
        nextKill = Date.now() + maxLife * (0.2 + 0.8 * random());
      }
      for (const [k, id] of ids.entries()) {
        const person = town.people[k]!;
        const step = steps[k];
        if (step === "finished" || (step && WAITING.has(step))) continue;
        const bots = tg.chat(id).bot;
        const last = lastActed.get(id);
        // Wait for the bot's answer to what was done last; after 3 s of silence, ask /status.
        const answered = !last || last.step !== step || bots.length > last.bot;
        if (!answered && Date.now() - last.at < 3000) continue;
        if (step === "alias")
          town.world.mb.addAlias(person.username, town.world.old.actorUri(person.username));
        if (step === "move" && !moved.has(person.username)) {
          const ok = await town.world.old
            .performMove(person.username, `${person.username}@${town.world.mb.domain}`, {
              transfer: { perTick: 2, tickMs: 200 },
            })
            .then(() => true)
            .catch(() => false);
          if (ok) moved.add(person.username);
        }
        lastActed.set(id, { step, at: Date.now(), bot: bots.length });
        if (!answered || !step) {
          tg.sendText(id, step ? "/status" : "/start");
          continue;
        }
        const act = actionAt(step, person, town);
        if ("type" in act) {
          tg.sendText(id, act.type);
          continue;
        }
        const button = newestButton(bots, act.press);
        if (button) {
          presses.get(id)!.push(bots.length);
          tg.pressButton(id, button.messageId, button.data);
        } else tg.sendText(id, "/status");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // Let a late duplicate arrive before counting.
    await new Promise((r) => setTimeout(r, 2000));
    for (const [k, id] of ids.entries()) {
      const person = town.people[k]!;
      const step = await stepOf(id);
      if (step === "finished") figures.finished += 1;
      else {
        figures.lost += 1;
        figures.notes.push(`${person.username}: still at ${step}`);
      }
      const following = new Set(town.world.mb.followingOf(person.username));
      const missing = person.follows.filter((a) => !following.has(a));
      figures.lost += missing.length;
      if (missing.length)
        figures.notes.push(`${person.username}: not followed: ${missing.join(", ")}`);
      for (const [pair, n] of Object.entries(town.world.mb.followRequestsOf(person.username)))
        if (n > 1) {
          figures.duplicates += n - 1;
          figures.notes.push(`${person.username}: ${n} follow requests for ${pair}`);
        }
      const chat = tg.chat(id);
      const finished = chat.bot.filter((m) => FINISHED.test(m.text ?? ""));
      if (finished.length !== 1) {
        figures.notes.push(`${person.username}: ${finished.length} finished messages`);
        if (finished.length === 0) figures.lost += 1;
        else figures.duplicates += finished.length - 1;
      }
      const repeated = repeats(chat.messages, presses.get(id)!);
      figures.repeatedReplies += repeated.unasked.length;
      figures.sameInARow += repeated.all;
      for (const r of repeated.unasked.slice(0, 3))
        figures.notes.push(`${person.username}: sent twice: ${JSON.stringify(r.slice(0, 80))}`);
    }
    if (bot.child.exitCode !== null) {
      figures.problems += 1;
      figures.notes.push(`the bot ended by itself (exit code ${bot.child.exitCode})`);
    }
    const secrets = [tg.token, SECRET, ...town.people.flatMap((p) => [p.oldToken, p.appToken])];
    for (const [k, p] of bots.entries()) {
      const output = `${p.stdout()}\n${p.stderr()}`;
      figures.logChars += output.length;
      const fatal = output.match(FATAL) ?? [];
      // One crash prints its stack and then "Node.js v20…": counted once.
      const crashes = fatal.filter((m) => m.startsWith("Node.js")).length || fatal.length;
      if (crashes > 0) {
        figures.problems += crashes;
        const at = output.search(FATAL);
        figures.notes.push(
          `bot process ${k + 1}: ${JSON.stringify(output.slice(Math.max(0, at - 300), at + 100))}`,
        );
      }
      for (const secret of secrets) {
        if (!output.includes(secret)) continue;
        figures.secretsFound += 1;
        figures.notes.push(`bot process ${k + 1}: a token in its output (${secret.slice(0, 4)}…)`);
      }
    }
    return figures;
  } finally {
    bot.child.kill("SIGKILL");
    await bot.exited;
    await store?.close();
    await tg.close();
    await town.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The newest bot message offering one of `labels`, and that button's data. */
function newestButton(bots: readonly MessageView[], labels: readonly string[]) {
  for (let i = bots.length - 1; i >= 0; i--) {
    const m = bots[i]!;
    const buttons = m.replyMarkup?.inline_keyboard.flat() ?? [];
    const b = buttons.find((x) => labels.includes(x.text) && x.callback_data);
    if (b) return { messageId: m.messageId, data: b.callback_data! };
    if (buttons.length > 0) return undefined; // the newest buttons are someone else's step
  }
  return undefined;
}

/**
 * Bot texts sent again right after themselves. `all`: every such repeat. `unasked`: those the
 * person's inputs can't account for — each message the person sent and each button pressed
 * (`pressedAt`: how many bot messages they had seen at each press; a press leaves no message
 * in the chat) may account for one repeat after it: a /status sent five times while the bot was
 * down is answered five times, one after another, with the same question. A lower bound on the
 * replies sent twice.
 */
function repeats(
  messages: readonly MessageView[],
  pressedAt: readonly number[],
): { all: number; unasked: string[] } {
  const unasked: string[] = [];
  let all = 0;
  let credit = 0;
  let seen = 0; // bot messages before messages[i]
  for (const [i, m] of messages.entries()) {
    if (m.from !== "bot") {
      credit += 1;
      continue;
    }
    credit += pressedAt.filter((p) => p === seen).length;
    seen += 1;
    const before = messages[i - 1];
    if (before?.from !== "bot" || !m.text || before.text !== m.text) continue;
    all += 1;
    if (credit > 0) credit -= 1;
    else unasked.push(m.text);
  }
  return { all, unasked };
}
