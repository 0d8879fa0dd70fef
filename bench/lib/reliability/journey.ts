/**
 * One person walking the whole journey as a patient user would: snapshot (a pasted token),
 * import to micro.blog, the alias, the Move, the watch, up to the finished message. When the bot
 * says something went wrong, they do what it asks — the same thing again, a little later — and
 * when they lose their place they ask /status. The steps come from what the saved state says,
 * so a step the journey adds or drops is walked through or reported, not assumed.
 */
import { plain } from "../../../src/chat/text.js";
import type { StepName } from "../../../src/model/state.js";
import type { makeChat } from "../../../test/helpers/chat.js";
import type { Person, Town } from "./town.js";

export type Chat = Awaited<ReturnType<typeof makeChat>>;

/** Steps that are work under way: the person waits for the bot to move on. */
export const WAITING = new Set<StepName>(["exporting", "importing", "watching"]);

/** What the person does at each step they act on: the buttons they'd press, or what they type. */
type Act =
  | { press: readonly string[] | ((p: Person, town: Town) => readonly string[]) }
  | { type: (p: Person, town: Town) => string };

const ACTS: Partial<Record<StepName, Act>> = {
  // The welcome asks for the server at once.
  welcome: { type: (_p, town) => town.world.old.domain },
  "old-server": { type: (_p, town) => town.world.old.domain },
  "old-sign-in": { press: ["Paste a token instead"] },
  "old-token": { type: (p) => p.oldToken },
  "new-choose": { press: ["micro.blog"] },
  "new-microblog": { type: (p) => p.appToken },
  // micro.blog's answers were lost on the way, so the bot asks which handle is theirs.
  "new-microblog-handle": { press: (p, town) => [`@${p.username}@${town.world.mb.domain}`] },
  "import-preview": { press: ["Follow them, then move"] },
  "import-done": { press: ["Move now"] },
  trying: { press: ["Move now"] },
  alias: { press: ["Both done", "Done", "Check again"] },
  preflight: { press: ["I understand — move"] },
  move: { press: ["I've moved"] },
};

export interface Walk {
  /** The steps the person was at, in order, each once. */
  steps: StepName[];
  finished: boolean;
  /** Why the walk stopped short, if it did. */
  stuck?: string;
  /** Turns that failed outright (the engine threw instead of replying). */
  errors: string[];
}

const FINISHED = /^Your move is finished/;

/** How many finished messages the person got. */
export function finishedMessages(chat: Chat): number {
  return chat.notified.filter((r) => r.kind === "say" && FINISHED.test(plain(r.text))).length;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Called once at each step the person reaches, before they act (the fuzzer's way in). */
export type AtStep = (step: StepName, waiting: boolean) => Promise<void>;

/** Walks `person` through the journey on `chat`; gives up after `deadlineMs`. */
export async function walk(
  chat: Chat,
  person: Person,
  town: Town,
  deadlineMs = 120_000,
  atStep?: AtStep,
) {
  const result: Walk = { steps: [], finished: false, errors: [] };
  // A turn that throws is what a channel would answer with its "try again" line: note, go on.
  const attempt = async (turn: () => Promise<unknown>) => {
    try {
      await turn();
    } catch (err) {
      result.errors.push(String(err).slice(0, 200));
      await pause(200);
    }
  };
  const deadline = Date.now() + deadlineMs;
  const { old, mb } = town.world;
  let sameStep = 0;
  let previous: StepName | undefined;
  await attempt(() => chat.send("/start"));
  while (Date.now() < deadline) {
    const step = (await chat.state())?.step;
    if (!step) {
      await attempt(() => chat.send("/start"));
      continue;
    }
    if (step !== previous) {
      if (!result.steps.includes(step)) {
        result.steps.push(step);
        await atStep?.(step, WAITING.has(step));
      }
      previous = step;
      sameStep = 0;
    } else sameStep += 1;
    if (step === "finished") {
      result.finished = true;
      return result;
    }
    // The bot said something went wrong: try again a little later, as a person would.
    if (sameStep > 0) await pause(Math.min(50 * sameStep, 500));
    if (WAITING.has(step)) {
      await pause(30);
      continue;
    }
    if (step === "alias") mb.addAlias(person.username, old.actorUri(person.username)); // once: kept once
    if (step === "move" && old.migrationsOf(person.username).length === 0) {
      // The old server's move form checks the alias over the (faulty) network: submit again.
      await old
        .performMove(person.username, `${person.username}@${mb.domain}`, {
          transfer: { perTick: 3, tickMs: 40 },
        })
        .catch(() => undefined);
      if (old.migrationsOf(person.username).length === 0) continue;
    }
    if (step === "old-sign-in" && person.oauth) {
      await attempt(() => signInByOAuth(chat, person, town));
      continue;
    }
    const act = ACTS[step];
    if (!act) {
      result.stuck = `no way on at ${step}`;
      return result;
    }
    if ("type" in act) {
      await attempt(() => chat.send(act.type(person, town)));
      continue;
    }
    const labels = typeof act.press === "function" ? act.press(person, town) : act.press;
    const label = labels.find((l) => chat.choices.some((c) => c.label === l));
    // No button: an error message came last, so ask for the step again.
    await attempt(() => (label ? chat.press(label) : chat.send("/status")));
  }
  result.stuck = `still at ${previous} when time ran out`;
  return result;
}

/** Opens the sign-in link the bot gave, approves it on the old server, pastes the code. */
async function signInByOAuth(chat: Chat, person: Person, town: Town): Promise<void> {
  const said = await chat.send("/status");
  const link = said.replies
    .flatMap((r) => (r.kind === "say" ? (r.links ?? []) : []))
    .find((l) => l.url.includes("/oauth/authorize"));
  if (!link) throw new Error("no sign-in link at old-sign-in");
  const { code } = town.world.old.authorize(person.username, link.url);
  person.secrets.push(code);
  await chat.send(code);
}
