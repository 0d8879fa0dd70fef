/** A bench's child process: a TypeScript script run with tsx, its stdout read line by line. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface Child {
  readonly proc: ChildProcessWithoutNullStreams;
  /** The next line on stdout that matches (lines already read are not seen again). */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  send(line: string): void;
}

export function startChild(script: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, script)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
  });
  const lines: string[] = [];
  let partial = "";
  let err = "";
  let wake: (() => void) | undefined;
  proc.stdout.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    wake?.();
  });
  proc.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  proc.on("exit", () => wake?.());
  return {
    proc,
    send: (line) => proc.stdin.write(`${line}\n`),
    async line(pattern, timeoutMs = 600_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const k = lines.findIndex((l) => pattern.test(l));
        if (k !== -1) return lines.splice(0, k + 1).at(-1)!;
        if (proc.exitCode !== null || Date.now() > deadline)
          throw new Error(
            `${script}: no line like ${pattern}\n--- stderr ---\n${err.slice(-4000)}`,
          );
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200).unref();
        });
      }
    },
  };
}
