/**
 * Fuzzing: at every step the journey reaches, random input before the person acts — text of any
 * length and script, files of every kind, stale and forged buttons, commands at the wrong moment,
 * things no step reads. Each must get a reply, crash nothing, leave no unhandled rejection, and
 * (at a step that isn't doing work on its own) leave the saved state exactly as it was. Which
 * steps exist comes from the registry (JOURNEY); those the walk never reaches are named.
 */
import { seeded } from "../../../sandbox/chaos.js";
import type { Input } from "../../../src/chat/conversation.js";
import type { StepName } from "../../../src/model/state.js";
import { JOURNEY } from "../../../src/steps/index.js";
import { makeChat } from "../../../test/helpers/chat.js";
import { FAST_WATCH } from "./faults.js";
import { walk } from "./journey.js";
import { startTown } from "./town.js";

export interface FuzzFigures {
  inputsTried: number;
  stepsFuzzed: StepName[];
  stepsNotReached: StepName[];
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

export class InputMaker {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = seeded(seed);
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

  /** One random input; `buttons` are the ids seen anywhere so far (forged presses reuse them). */
  input(seq: number, buttons: readonly string[], current: ReadonlySet<string>): Input {
    switch (this.int(7)) {
      case 0:
      case 1:
        return { kind: "text", text: this.text() };
      case 2: {
        const bytes = this.text().length % 2 ? new TextEncoder().encode(this.text()) : this.bytes();
        const name = `${this.text().slice(0, 40) || "f"}${this.pick(EXTENSIONS)}`;
        // A size that doesn't always match what's read: channels only report one.
        const size = this.int(4) === 0 ? this.int(100_000_000) : bytes.length;
        return { kind: "file", name, size, read: async () => bytes };
      }
      case 3: {
        // A button from an older message: same id, older seq.
        const id = this.pick(current.size ? [...current] : ["x"]);
        return { kind: "choice", id, seq: Math.max(0, seq - 1 - this.int(5)) };
      }
      case 4: {
        // A forged button: an id from another message, or made up, with the current seq.
        const others = buttons.filter((b) => !current.has(b));
        const id = this.int(2) && others.length ? this.pick(others) : this.text().slice(0, 64);
        return { kind: "choice", id, seq: this.int(3) === 0 ? seq + 1 + this.int(100) : seq };
      }
      case 5:
        return {
          kind: "command",
          name: this.pick(["status", "help", "start"] as const),
          args: this.text().slice(0, 200),
        };
      default:
        return { kind: "other", what: this.pick(OTHER) };
    }
  }
}

export async function runFuzz(opts: { perStep: number; seed: number }): Promise<FuzzFigures> {
  const town = await startTown({ people: 1 });
  const person = town.people[0]!;
  const chat = await makeChat(town.world.loopback, {
    user: "tg:9000",
    pollMs: 30,
    watch: FAST_WATCH,
    timeoutMs: 1000,
  });
  const maker = new InputMaker(opts.seed);
  const figures: FuzzFigures = {
    inputsTried: 0,
    stepsFuzzed: [],
    stepsNotReached: [],
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
  const remember = () => {
    for (const c of chat.choices) seen.add(c.id);
  };

  async function fuzz(step: StepName, waiting: boolean) {
    figures.stepsFuzzed.push(step);
    remember();
    for (let i = 0; i < opts.perStep; i++) {
      const before = await chat.state();
      if (before?.step !== step && !waiting) break; // left on its own (shouldn't happen)
      const current = new Set(chat.choices.map((c) => c.id));
      const input = maker.input(chat.seq, [...seen], current);
      figures.inputsTried += 1;
      const shown = describe(input);
      let replies: number;
      try {
        const turn = await chat.engine.receive(chat.user, input, async () => {});
        replies = turn.replies.length;
      } catch (err) {
        figures.crashes += 1;
        note(`${step}: ${shown} threw ${String(err).slice(0, 200)}`);
        continue;
      }
      if (replies === 0) {
        figures.silent += 1;
        note(`${step}: ${shown} got no reply`);
      }
      const after = await chat.state();
      if (!waiting && JSON.stringify(after) !== JSON.stringify(before)) {
        figures.stateChanged += 1;
        note(`${step}: ${shown} moved the state to ${after?.step}`);
        if (before) await chat.placeAt(before); // put it back, and go on
      }
    }
    await chat.send("/status"); // the step's own buttons again, for the walk
  }

  try {
    const walked = await walk(chat, person, town, 600_000, fuzz);
    if (!walked.finished) note(`the walk itself stopped: ${walked.stuck}`);
    figures.stepsNotReached = JOURNEY.filter((s) => !figures.stepsFuzzed.includes(s));
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
