/**
 * The same conversation in a terminal, for someone migrating from their own shell
 * (`npm start` with no channel configured) or trying it offline (`npm run demo`).
 * Buttons become numbers, links are written out, files are saved to disk.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface, type Interface } from "node:readline";
import {
  type Choice,
  COMMANDS,
  type CommandName,
  type Input,
  type Notifier,
  type NotifyArgs,
  type Reply,
  type UserKey,
} from "../chat/conversation.js";
import { plain } from "../chat/text.js";
import type { Engine } from "../engine/engine.js";
import { log } from "../log.js";

export interface ConsoleOptions {
  engine: Engine;
  /** Where files the bot sends are written. */
  filesDir: string;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  user?: UserKey;
  /**
   * Lines starting with "!" that the demo answers itself: it plays the web pages
   * a real user would click through (adding the alias, submitting the Move).
   */
  hooks?: Record<string, () => Promise<string>>;
}

export class ConsoleChannel implements Notifier {
  private rl?: Interface;
  private readonly out: NodeJS.WritableStream;
  private readonly user: UserKey;
  /** The numbered choices on screen, with the stamp of the state that drew them. */
  private choices: { list: readonly Choice[]; seq: number } = { list: [], seq: 0 };
  private queue: Promise<void> = Promise.resolve();
  private closed?: () => void;

  constructor(private readonly opts: ConsoleOptions) {
    this.out = opts.output ?? process.stdout;
    this.user = opts.user ?? "console:local";
  }

  /** Resolves when the user closes the terminal (Ctrl-D) or stop() is called. */
  async start(): Promise<void> {
    this.rl = createInterface({
      input: this.opts.input ?? process.stdin,
      output: this.out,
      terminal: false,
    });
    const ended = new Promise<void>((resolve) => {
      this.closed = resolve;
    });
    this.rl.on("line", (line) => {
      this.queue = this.queue.then(() => this.onLine(line));
    });
    this.rl.on("close", () => {
      void this.queue.then(() => this.closed?.());
    });
    this.print("fedimove — type /help for commands, Ctrl-D to leave.\n");
    this.queue = this.queue.then(() => this.send({ kind: "command", name: "start", args: "" }));
    await ended;
  }

  async stop(): Promise<void> {
    this.rl?.close();
    await this.queue;
    this.closed?.();
  }

  async notify(...[_user, replies, seq]: NotifyArgs): Promise<void> {
    await this.render(replies, seq ?? this.choices.seq);
  }

  private async onLine(line: string): Promise<void> {
    const text = line.trim();
    if (text === "") return;
    const hook = /^!(\w+)$/.exec(text)?.[1];
    if (hook && this.opts.hooks) {
      const run = this.opts.hooks[hook];
      this.print(
        `${run ? await run().catch((err: Error) => `(${err.message})`) : `(no such demo action: !${hook})`}\n`,
      );
      return;
    }
    await this.send(this.toInput(text));
  }

  private toInput(text: string): Input {
    const cmd = /^\/([a-z_]+)(?:\s+(.*))?$/i.exec(text);
    if (cmd) {
      const name = cmd[1]!.toLowerCase();
      return (COMMANDS as readonly string[]).includes(name)
        ? { kind: "command", name: name as CommandName, args: cmd[2] ?? "" }
        : { kind: "other", what: `/${name}` };
    }
    const pick = /^\d{1,2}$/.test(text) ? this.choices.list[Number(text) - 1] : undefined;
    if (pick) return { kind: "choice", id: pick.id, seq: this.choices.seq };
    const byLabel = this.choices.list.find((c) => c.label.toLowerCase() === text.toLowerCase());
    if (byLabel) return { kind: "choice", id: byLabel.id, seq: this.choices.seq };
    return { kind: "text", text };
  }

  private async send(input: Input): Promise<void> {
    try {
      await this.opts.engine.receive(this.user, input, async (turn) => {
        if (turn.secret)
          this.print("(that message held a secret; it is sealed and won't be shown again)\n");
        await this.render(turn.replies, turn.seq);
      });
    } catch (err) {
      log.error("turn failed", { err });
      this.print("Sorry, something went wrong on my side and nothing changed. Please try again.\n");
    }
  }

  private async render(replies: readonly Reply[], seq: number): Promise<void> {
    for (const reply of replies) {
      if (reply.kind === "say") {
        let text = `\n${plain(reply.text)}\n`;
        for (const l of reply.links ?? []) text += `  → ${l.label}: ${l.url}\n`;
        if (reply.choices?.length) {
          this.choices = { list: reply.choices, seq };
          text += `${reply.choices.map((c, k) => `  [${k + 1}] ${c.label}`).join("   ")}\n`;
        }
        this.print(text);
      } else if (reply.kind === "file") {
        await mkdir(this.opts.filesDir, { recursive: true, mode: 0o700 });
        const file = path.join(this.opts.filesDir, path.basename(reply.name));
        await writeFile(file, reply.bytes, { mode: 0o600 });
        this.print(
          `📎 ${reply.name} saved to ${file}${reply.caption ? ` — ${plain(reply.caption)}` : ""}\n`,
        );
      } else {
        this.print(`… ${plain(reply.text)}\n`);
      }
    }
  }

  private print(text: string): void {
    this.out.write(text);
  }
}
