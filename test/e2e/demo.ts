/**
 * `npm run demo` as a newcomer plays it in a terminal: the real process (src/demo.ts), the
 * lines she types — her messages counted; "!…" lines, the web pages she opens in a browser,
 * not — and what it prints after each.
 */
import { type Proc, startProcess } from "./process.js";

export interface Demo {
  proc: Proc;
  /** Her messages so far, in order. */
  readonly sent: string[];
  /** Types a line, and waits for `expect` in what is printed after it. */
  type(line: string, expect: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Waits for `pattern` in what was printed since the last line typed. */
  next(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** What was printed since the last line typed. */
  printed(): string;
}

/** `sent`: what counts as sent before she types anything (the terminal's own /start). */
export function startDemo(args: readonly string[] = [], sent: string[] = []): Demo {
  const proc = startProcess("src/demo.ts", { LOG_LEVEL: "warn" }, args);
  let mark = 0;
  return {
    proc,
    sent,
    async type(line, expect, timeoutMs = 30_000) {
      mark = proc.stdout().length;
      if (!line.startsWith("!")) sent.push(line);
      proc.child.stdin.write(`${line}\n`);
      return proc.waitFor(expect, timeoutMs, mark);
    },
    next: (pattern, timeoutMs) => proc.waitFor(pattern, timeoutMs, mark),
    printed: () => proc.stdout().slice(mark),
  };
}

/** What the demo prints for her to use: the old server's address, her token there, her micro.blog app token. */
export async function demoCredentials(
  demo: Demo,
): Promise<{ url: string; oldToken: string; appToken: string }> {
  const [, url] = await demo.proc.waitFor(/Its address:\s+(\S+)/);
  const [, oldToken] = await demo.proc.waitFor(/Its access token:\s+(\S+)/);
  const [, appToken] = await demo.proc.waitFor(/micro\.blog app token:\s+(\S+)/);
  return { url: url!, oldToken: oldToken!, appToken: appToken! };
}

/** On the terminal, from the first question to micro.blog's: signed in with a pasted token. */
export async function signInByToken(
  demo: Demo,
  { url, oldToken }: { url: string; oldToken: string },
): Promise<void> {
  await demo.proc.waitFor(
    /Which Mastodon server is your account on\?[^\n]*\n\s+\[1\] What changes/,
  );
  await demo.type(url, /\[1\] Paste a token instead/);
  await demo.type("1", /I need an access token/);
  await demo.type(oldToken, /Saved: 240 follows, 600 followers/);
  await demo.next(/Moving to micro\.blog\?[\s\S]*\[1\] Another server instead/, 30_000);
}
