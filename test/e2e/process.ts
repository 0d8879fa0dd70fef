/** Starting the real bot (or the demo) as a child process, and reading what it prints. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the output once `pattern` appears in stdout after `from` characters. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startProcess(
  script: string,
  env: Record<string, string>,
  args: readonly string[] = [],
  opts: { fdLimit?: number } = {},
): Proc {
  const argv = ["--import", "tsx", path.join(ROOT, script), ...args];
  // With a file-descriptor limit, through a shell that sets it and then becomes node.
  const [command, commandArgs] =
    opts.fdLimit === undefined
      ? [process.execPath, argv]
      : [
          "/bin/sh",
          ["-c", `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, process.execPath, ...argv],
        ];
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, timeoutMs = 20_000, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = out.slice(from).match(pattern);
        if (m) return m;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(
            `timed out waiting for ${pattern}\n--- stdout ---\n${out}\n--- stderr ---\n${err}`,
          );
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}
