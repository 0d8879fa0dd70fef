/**
 * Fuzzing: at every step of the registry (JOURNEY), random input — text of any length and
 * script, files of every kind, stale and forged buttons, commands at the wrong moment, things no
 * step reads. Each must get a reply, crash nothing, leave no unhandled rejection, and (at a step
 * that isn't doing work on its own) leave the saved state exactly as it was.
 *
 * The steps come two ways. A person walks the journey (a pasted token, micro.blog) and is fuzzed
 * at each step before acting, with the jobs of that journey running. Every step and variant the
 * walk didn't fuzz with its jobs at rest is then reached directly: a saved state built by
 * places.ts, put in place, fuzzed, put back after anything that changed it. The same places are
 * fuzzed again with the traits of a Mastodon DM (no secrets in the chat, no buttons, no files),
 * as the DM channel turns typed text into input; once without the bot's one-time pages and once
 * with them, whose token form and upload form deliver at any step. A registry step neither
 * fuzzed nor excused below (with its reason) fails the run.
 */
import { seeded } from "../../../sandbox/chaos.js";
import { type Shown, toInput } from "../../../src/channels/mastodon-dm/input.js";
import { type ChannelTraits, FULL_CHANNEL } from "../../../src/chat/channel.js";
import type { CommandName, Input, Reply, UserKey } from "../../../src/chat/conversation.js";
import { STATE_VERSION, type State, type StepName } from "../../../src/model/state.js";
import { TimeoutError, TooLargeError, UnreachableError } from "../../../src/net/errors.js";
import { tryChoices } from "../../../src/steps/import/import-done.js";
import { JOURNEY } from "../../../src/steps/index.js";
import { savedStates, snapshots } from "../../../src/store/user-data.js";
import { makeChat } from "../../../test/helpers/chat.js";
import { FAST_WATCH } from "./faults.js";
import { walk } from "./journey.js";
import { type Place, placesFor } from "./places.js";
import { startTown } from "./town.js";

export interface FuzzFigures {
  inputsTried: number;
  /** Registry steps fuzzed, on any channel. */
  stepsFuzzed: StepName[];
  /** Registry steps neither fuzzed nor excused: the run fails on any. */
  stepsMissed: StepName[];
  /** Steps whose state couldn't be built on a channel ("dm: alias"): a gap, the run fails. */
  unbuilt: string[];
  /** Steps not fuzzed on purpose, and why. */
  excused: Partial<Record<StepName, string>>;
  /** Where the inputs went: "telegram: old-token (walked)", "dm: import-web (mastodon)", … */
  places: string[];
  /** How long each place took, inputs and checks together (where a run's time goes). */
  msByPlace: Record<string, number>;
  crashes: number;
  unhandledRejections: number;
  silent: number;
  stateChanged: number;
  notes: string[];
}

/** Pieces of many scripts, and the characters that break naive code. */
const ALPHABETS = [
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  " \t\n\r",
  "@./:_-#?&=%+~<>\"'`\\{}[]()*!$;,|^",
  "абвгдеёжзийклмнопрстуфхцчшщъыьэюяЖЩ",
  "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生",
  "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
  "אבגדהוזחטיכלמנסעפצקרשת",
  "कखगघङचछजझञटठडढणतथदधनपफबभम",
  "😀🎉👩‍💻🏳️‍🌈🇯🇵✨🔥💥🧨",
  "\u200b\u200c\u200d\u202e\u2066\ufeff\u0000\u0007\u001b\ud800",
  "ＡＢＣ１２３ｱｲｳ",
];

const OTHER = ["sticker", "photo", "voice note", "location", "poll", "contact", ""];
const EXTENSIONS = [
  ".csv",
  ".zip",
  ".txt",
  ".json",
  ".png",
  ".exe",
  ".tar.gz",
  "",
  ".CSV",
  ".csv.zip",
];

/**
 * The kinds of input() in the order a place first gets them (text, file, stale button, forged
 * button, command, other), so even a few inputs at a place try every kind; then at random.
 */
const FIRST_KINDS = [0, 2, 3, 4, 5, 6];
/** dm()'s kinds the same way: a /command, a command word with more after it, text. */
const FIRST_TYPED = [0, 1, 2];

/** How a channel's download of a file fails (src/channels/telegram.ts, download). */
const DOWNLOAD_FAILURES: (() => Error)[] = [
  () => new TimeoutError("api.telegram.org did not answer in time", "api.telegram.org"),
  () => new UnreachableError("api.telegram.org could not be reached", "api.telegram.org"),
  () => new TooLargeError("api.telegram.org sent more than 20971520 bytes", "api.telegram.org"),
  () => new Error("Telegram named no file to download"),
];

export class InputMaker {
  private readonly r: () => number;
  /** Inputs drawn since the last place began. */
  private drawn = 0;
  constructor(seed: number) {
    this.r = seeded(seed);
  }

  /** A new place: its first inputs are one of each kind again. */
  newPlace(): void {
    this.drawn = 0;
  }

  private kind(first: readonly number[], n: number): number {
    const k = this.drawn < first.length ? first[this.drawn]! : this.int(n);
    this.drawn += 1;
    return k;
  }

  int(n: number): number {
    return Math.floor(this.r() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** Text of a random length (mostly short, sometimes very long) from a few scripts. */
  text(): string {
    const lengths = [0, 1, 5, 20, 80, 300, 4096, 70_000];
    const n = this.int(this.pick(lengths) + 1);
    const alphabets = [this.pick(ALPHABETS), this.pick(ALPHABETS)];
    let s = "";
    while (s.length < n) s += this.pick([...this.pick(alphabets)]);
    return s;
  }

  bytes(): Uint8Array {
    const n = this.int(this.pick([0, 10, 1000, 200_000]) + 1);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    // Sometimes a real format's magic, with garbage after it.
    const magic = this.pick([
      [0x50, 0x4b, 0x03, 0x04],
      [0x89, 0x50, 0x4e, 0x47],
      [0xef, 0xbb, 0xbf],
      [],
    ]);
    b.set(magic.slice(0, n));
    return b;
  }

  /** A file of any kind, as a channel hands it over: its name, the size it said, its bytes. */
  file(): Input {
    const bytes = this.text().length % 2 ? new TextEncoder().encode(this.text()) : this.bytes();
    const name = `${this.text().slice(0, 40) || "f"}${this.pick(EXTENSIONS)}`;
    // A size that doesn't always match what's read: channels only report one (Telegram may
    // report none: 0). Now and then one that can't be fetched (Telegram's getFile refuses
    // files over 20 MB; the download can time out), as the channel's read() then throws.
    const size = this.int(4) === 0 ? this.int(100_000_000) : bytes.length;
    if (this.int(5) === 0) {
      const failure = this.pick(DOWNLOAD_FAILURES)();
      return { kind: "file", name, size, read: async () => Promise.reject(failure) };
    }
    return { kind: "file", name, size, read: async () => bytes };
  }

  /** A command that changes nothing here: /back too where there is nothing to go back to. */
  command(commands: readonly CommandName[]): Input {
    return { kind: "command", name: this.pick(commands), args: this.text().slice(0, 200) };
  }

  /**
   * One random input; `buttons` are the ids seen anywhere so far (forged presses reuse them),
   * `current` those the step takes now (never forged: pressing them is a real answer).
   */
  input(
    seq: number,
    buttons: readonly string[],
    current: ReadonlySet<string>,
    commands: readonly CommandName[] = HARMLESS,
  ): Input {
    switch (this.kind(FIRST_KINDS, 7)) {
      case 0:
      case 1:
        return { kind: "text", text: this.text() };
      case 2:
        return this.file();
      case 3: {
        // A button from an older message: same id, older seq.
        const id = this.pick(current.size ? [...current] : ["x"]);
        return { kind: "choice", id, seq: Math.max(0, seq - 1 - this.int(5)) };
      }
      case 4: {
        // A forged button: an id from another message, or made up, with the current seq. An id
        // that is a command ("/forget") is that command, as if typed: not forged input.
        const others = buttons.filter((b) => !current.has(b) && !b.startsWith("/"));
        const id = this.int(2) && others.length ? this.pick(others) : this.text().slice(0, 64);
        // Its stamp: a later one, none (how Telegram buttons of old came back), or the current.
        const stamp = this.int(4);
        if (stamp === 0) return { kind: "choice", id, seq: seq + 1 + this.int(100) };
        if (stamp === 1) return { kind: "choice", id };
        return { kind: "choice", id, seq };
      }
      case 5:
        return this.command(commands);
      default:
        return { kind: "other", what: this.pick(OTHER) };
    }
  }

  /**
   * What a person types in a DM, as the DM channel reads it (src/channels/mastodon-dm/input.ts):
   * text, a command as a word or with a slash, an unknown /command. No buttons, and no files but
   * those of the bot's upload page. Text that picks one of the options shown (by number or by
   * its words) is a real answer: not fuzz.
   */
  dm(shown: Shown, commands: readonly CommandName[] = HARMLESS, pages = false): Input {
    // The bot's one-time pages deliver too, whatever the chat is at by then: a token from the
    // micro.blog form, a file from the upload form (src/channels/web/one-time-routes.ts).
    if (pages && this.int(4) === 0) {
      if (this.int(2)) return { kind: "form", purpose: "microblog-token", secret: this.text() };
      return this.file();
    }
    for (;;) {
      const r = this.kind(FIRST_TYPED, 8);
      const text =
        r === 0
          ? `/${this.pick([...commands, "nonsense", "settings"])}`
          : r === 1
            ? `${this.pick(commands)} ${this.text().slice(0, 100)}`
            : this.text();
      const input = toInput(text, shown);
      if (input.kind === "choice") continue;
      if (input.kind === "command" && !commands.includes(input.name)) continue;
      return input;
    }
  }
}

/** Commands that change nothing at any step. */
const HARMLESS: readonly CommandName[] = ["status", "help", "start"];
/** At a state put in place there is nothing to go back to: /back is a command at the wrong moment. */
const PLACED: readonly CommandName[] = [...HARMLESS, "back"];

/** Steps not fuzzed on purpose, each with its reason. None now: every step can be put in place. */
export const EXCUSED: Partial<Record<StepName, string>> = {};

/**
 * Buttons a step takes beyond those of its prompt: other messages the bot sends at that step (a
 * reminder, a milestone, a check's answer) carry them under the same stamp, so a press of one
 * is a real answer, never a forgery.
 */
const ALSO_OFFERED: Partial<Record<StepName, readonly string[]>> = {
  // The welcome's button from before it asked for the server at once.
  welcome: ["go"],
  "new-microblog": ["again"],
  "import-web": ["follow-missing"],
  trying: tryChoices.map((c) => c.id),
  preflight: ["again", "later"],
  move: ["moved-unchecked"],
  watching: ["quiet", "count-new", "keep-watching", "finish-uncounted"],
};

/**
 * Input a step takes as an answer though it may come out of the generator: sent, it would be
 * the person answering, not junk, so it is drawn again. The welcome reads text opening with
 * "start", "ok", "yes"… as "let's go" (src/steps/old/welcome.ts; the DM channel reads a command
 * word with more after it, "start now", as text). Where the person does something elsewhere and
 * then says so, their word starts a check, and what the check finds may move them on: text
 * opening with "done", "ok" or "finished" after the import by hand (import-web.ts), text saying
 * "moved" or "done" after the Move (move.ts).
 */
const typed = (pattern: RegExp) => (input: Input) =>
  input.kind === "text" && pattern.test(input.text.trim());
const ANSWERS: Partial<Record<StepName, (input: Input) => boolean>> = {
  welcome: typed(/^(y|yes|ok|go|let'?s go|ready|start)\b/i),
  "import-web": typed(/^(done|ok|finished)\b/i),
  move: typed(/moved|done/i),
};

/** Random input for `step`, never one of its answers. */
function junk(step: StepName, make: () => Input): Input {
  for (;;) {
    const input = make();
    if (!ANSWERS[step]?.(input)) return input;
  }
}

/** A one-time page of the bot's that never opens: the steps only link to it. */
const page = async (kind: string) => ({
  url: `https://bot.example/${kind}/one-time`,
  expiresAt: Date.now() + 15 * 60_000,
});

interface Channel {
  name: string;
  traits: ChannelTraits;
  user: UserKey;
  /** Input only as typed text, read the way the DM channel reads it. */
  typed: boolean;
}

export const CHANNELS: readonly Channel[] = [
  { name: "telegram", traits: FULL_CHANNEL, user: "tg:9001", typed: false },
  {
    name: "dm",
    traits: { secretsInChat: false, files: "none" },
    user: "mastodon:9002",
    typed: true,
  },
  {
    name: "dm with pages",
    traits: {
      secretsInChat: false,
      files: "links",
      secretForm: () => page("secret"),
      uploadForm: () => page("upload"),
    },
    user: "mastodon:9003",
    typed: true,
  },
];

/** The buttons a person can press after these replies (those of the newest message with any). */
function shownAfter(replies: readonly Reply[], seq: number, before: Shown): Shown {
  const withChoices = replies.filter((r) => r.kind === "say" && r.choices?.length);
  const last = withChoices[withChoices.length - 1];
  return { list: last?.kind === "say" ? [...(last.choices ?? [])] : before.list, seq };
}

export async function runFuzz(opts: {
  perStep: number;
  seed: number;
  /** Inputs at each place on the DM channels (default perStep). */
  dmPerStep?: number;
}): Promise<FuzzFigures> {
  // Few follows and followers: the walk is the way in, and its import, preview and watch cost
  // a request or a tick per account; the inputs don't depend on how many there are.
  const town = await startTown({ people: 1, follows: 2, followers: 3 });
  const person = town.people[0]!;
  // The new account when the target is a Mastodon-API server: another account on the old one.
  const { old } = town.world;
  const newUsername = `${person.username}new`;
  const newAccount = {
    username: newUsername,
    id: old.addAccount({ username: newUsername }).id,
    token: old.issueToken(newUsername),
  };
  const chat = await makeChat(town.world.loopback, {
    user: "tg:9000",
    pollMs: 30,
    watch: FAST_WATCH,
    timeoutMs: 1000,
    // Thousands of turns a minute read micro.blog here (the pre-flight's checks, each time): kept
    // to micro.blog's 300 a minute, the bot would spend the run waiting. The pacing itself is
    // the import bench's and the pacer's tests' to prove; the stand-in here limits nothing.
    microblogRule: { limit: 1_000_000 },
  });
  const traits = new Map(CHANNELS.map((c) => [c.user, c.traits]));
  chat.engine.channels = (user) => traits.get(user) ?? FULL_CHANNEL;
  const maker = new InputMaker(opts.seed);
  const figures: FuzzFigures = {
    inputsTried: 0,
    stepsFuzzed: [],
    stepsMissed: [],
    unbuilt: [],
    excused: EXCUSED,
    places: [],
    msByPlace: {},
    crashes: 0,
    unhandledRejections: 0,
    silent: 0,
    stateChanged: 0,
    notes: [],
  };
  const note = (s: string) => {
    if (figures.notes.length < 30) figures.notes.push(s);
  };
  const onRejection = (err: unknown) => {
    figures.unhandledRejections += 1;
    note(`unhandled rejection: ${String(err).slice(0, 200)}`);
  };
  process.on("unhandledRejection", onRejection);
  const seen = new Set<string>();
  const remember = (ids: Iterable<string>) => {
    for (const id of ids) seen.add(id);
  };
  const fuzzedAt = (step: StepName, where: string) => {
    if (!figures.stepsFuzzed.includes(step)) figures.stepsFuzzed.push(step);
    figures.places.push(where);
  };

  /** One input: a reply, no throw; false if it threw. */
  async function tryOne(
    where: string,
    user: UserKey,
    input: Input,
  ): Promise<{ replies: readonly Reply[]; seq: number } | undefined> {
    figures.inputsTried += 1;
    try {
      const turn = await chat.engine.receive(user, input, async () => {});
      if (turn.replies.length === 0) {
        figures.silent += 1;
        note(`${where}: ${describe(input)} got no reply`);
      }
      return turn;
    } catch (err) {
      figures.crashes += 1;
      note(`${where}: ${describe(input)} threw ${String(err).slice(0, 200)}`);
      return undefined;
    }
  }

  // The walk: each step with the journey's own jobs running (those at work move on by themselves).
  const strictlyWalked = new Set<StepName>();
  async function fuzzWalked(step: StepName, waiting: boolean) {
    const where = `telegram: ${step} (walked${waiting ? ", at work" : ""})`;
    const started = Date.now();
    fuzzedAt(step, where);
    maker.newPlace();
    if (!waiting) strictlyWalked.add(step);
    remember(chat.choices.map((c) => c.id));
    for (let i = 0; i < opts.perStep; i++) {
      const before = await chat.state();
      if (before?.step !== step && !waiting) break; // left on its own (shouldn't happen)
      const current = new Set([...chat.choices.map((c) => c.id), ...(ALSO_OFFERED[step] ?? [])]);
      const input = junk(step, () => maker.input(chat.seq, [...seen], current));
      const turn = await tryOne(step, chat.user, input);
      if (!turn) continue;
      const after = await chat.state();
      if (!waiting && JSON.stringify(after) !== JSON.stringify(before)) {
        figures.stateChanged += 1;
        note(`${step}: ${describe(input)} moved the state to ${after?.step}`);
        if (before) await chat.placeAt(before); // put it back, and go on
      }
    }
    await chat.send("/status"); // the step's own buttons again, for the walk
    figures.msByPlace[where] = Date.now() - started;
  }

  const { store } = chat;
  async function put(user: UserKey, place: Place): Promise<void> {
    await snapshots(store).set(user, place.snapshot);
    await savedStates(store).set(user, {
      v: STATE_VERSION,
      seq: 1,
      state: place.state,
      history: [],
      updatedAt: Date.now(),
    });
  }
  const stateOf = async (user: UserKey) => JSON.stringify((await chat.engine.state(user)) ?? null);

  /** A state put in place: nothing runs for it, so any change at all is the input's doing. */
  async function fuzzPlaced(channel: Channel, place: Place, n: number) {
    const where = `${channel.name}: ${place.label}`;
    const step = place.state.step;
    const started = Date.now();
    fuzzedAt(step, where);
    const { user } = channel;
    const look = async (): Promise<Shown> => {
      await put(user, place);
      const turn = await tryOne(where, user, { kind: "command", name: "status", args: "" });
      return shownAfter(turn?.replies ?? [], turn?.seq ?? 1, { list: [], seq: 1 });
    };
    let shown = await look();
    maker.newPlace();
    const expected = JSON.stringify(place.state);
    for (let i = 0; i < n; i++) {
      remember(shown.list.map((c) => c.id));
      const current = new Set([...shown.list.map((c) => c.id), ...(ALSO_OFFERED[step] ?? [])]);
      const input = junk(step, () =>
        channel.typed
          ? maker.dm(shown, PLACED, channel.traits.uploadForm !== undefined)
          : maker.input(shown.seq, [...seen], current, PLACED),
      );
      const turn = await tryOne(where, user, input);
      if (turn) shown = shownAfter(turn.replies, turn.seq, shown);
      const after = await stateOf(user);
      if (after !== expected) {
        figures.stateChanged += 1;
        const moved = JSON.parse(after) as State | null;
        note(
          `${where}: ${describe(input)} moved the state${moved ? ` to ${moved.step}` : " away"}`,
        );
        shown = await look();
      }
    }
    figures.msByPlace[where] = Date.now() - started;
  }

  try {
    const walked = await walk(chat, person, town, 600_000, fuzzWalked);
    if (!walked.finished) note(`the walk itself stopped: ${walked.stuck}`);
    for (const step of JOURNEY) {
      if (EXCUSED[step]) continue;
      for (const channel of CHANNELS) {
        let places: Place[];
        try {
          places = await placesFor(step, {
            town,
            person,
            user: channel.user,
            sealer: chat.sealer,
            signIn: chat.core.signIn,
            newAccount,
          });
        } catch (err) {
          figures.unbuilt.push(`${channel.name}: ${step}`);
          note(`${step}: no state could be built for it: ${String(err).slice(0, 200)}`);
          continue;
        }
        for (const place of places) {
          // Walked with its jobs at rest, the step's usual state needs no second round here.
          if (channel.name === "telegram" && place.label === step && strictlyWalked.has(step))
            continue;
          await fuzzPlaced(
            channel,
            place,
            channel.typed ? (opts.dmPerStep ?? opts.perStep) : opts.perStep,
          );
        }
      }
    }
    figures.stepsMissed = JOURNEY.filter((s) => !figures.stepsFuzzed.includes(s) && !EXCUSED[s]);
    await chat.jobs.idle();
    return figures;
  } finally {
    process.off("unhandledRejection", onRejection);
    await chat.core.close();
    await town.close();
  }
}

function describe(input: Input): string {
  switch (input.kind) {
    case "text":
      return `text(${input.text.length}) ${JSON.stringify(input.text.slice(0, 30))}`;
    case "file":
      return `file ${JSON.stringify(input.name.slice(0, 30))} (${input.size} bytes said)`;
    case "choice":
      return `button ${JSON.stringify(input.id.slice(0, 30))} seq ${input.seq}`;
    case "command":
      return `/${input.name} ${JSON.stringify(input.args.slice(0, 20))}`;
    default:
      return input.kind;
  }
}
