/**
 * fedimove as src/app.ts wires it, minus the channel and the web server (the bench
 * plays the channel): the real engine, World, sign-in, SQLite store and job runner
 * with the snapshot job, against the Mastodon stand-in in this process, one account
 * with its own token per user.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMastodonSandbox } from "../../sandbox/mastodon.js";
import type { Input, Reply, UserKey } from "../../src/chat/conversation.js";
import { plain } from "../../src/chat/text.js";
import { READ_SCOPES } from "../../src/clients/sign-in.js";
import { createCore } from "../../src/core.js";
import type { Turn } from "../../src/engine/engine.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";
import type { Samples, Side } from "./measure.js";
import { outsideTurns, timed, timedTurn, timedWorld } from "./remote-time.js";

/** The production default (HTTP_TIMEOUT_MS). */
const HTTP_TIMEOUT_MS = 15_000;

export async function fedimoveSide(opts: { users: number; follows: number }): Promise<Side> {
  const sandbox = await startMastodonSandbox({ domain: "social.example", rateLimit: null });
  const tokens: string[] = [];
  for (let k = 0; k < opts.users; k++) {
    sandbox.addAccount({ username: `user${k}` });
    sandbox.seedFollows(`user${k}`, opts.follows);
    // The scopes the bot asks for, so the whole snapshot is read.
    tokens.push(sandbox.issueToken(`user${k}`, READ_SCOPES.split(" ")));
  }

  const dir = mkdtempSync(join(tmpdir(), "fedimove-bench-"));
  const store = await openStore(`sqlite:${dir}/bench.sqlite`);
  const core = createCore({
    store,
    sealer: new Sealer(randomBytes(32)),
    network: {
      allowPrivateNetwork: true,
      timeoutMs: HTTP_TIMEOUT_MS,
      originOf: (host) => `http://${host}`,
      instrument: timed,
    },
    world: timedWorld,
    handlers: (all) => ({ snapshot: outsideTurns(all.snapshot) }),
  });
  const { engine, jobs } = core;

  // A user is done when the snapshot job tells them how it went: the files, or why not.
  const waiting = new Map<UserKey, (ok: boolean) => void>();
  engine.notifier = {
    async notify(user: UserKey, replies: readonly Reply[]) {
      if (replies.every((r) => r.kind === "progress")) return;
      waiting.get(user)?.(replies.some((r) => r.kind === "file"));
      waiting.delete(user);
    },
  };

  return {
    async journey(k, samples?: Samples) {
      const user: UserKey = `tg:${k}`;
      const send = async (input: Input): Promise<Turn> => {
        const t = await timedTurn(() => engine.receive(user, input, async () => {}));
        samples?.add(t.wallMs - t.remoteMs, t.remoteMs);
        return t.result;
      };
      // The welcome asks for the server at once.
      await send({ kind: "command", name: "start", args: "" });
      const server = await send({ kind: "text", text: sandbox.url });
      await send({ kind: "choice", id: "token", seq: server.seq }); // "Paste a token instead"
      const delivered = new Promise<boolean>((resolve) => waiting.set(user, resolve));
      const signedIn = await send({ kind: "text", text: tokens[k]! });
      if (signedIn.replies.some((r) => r.kind === "say" && plain(r.text).startsWith("Signed in")))
        return delivered;
      waiting.delete(user); // refused: no job was started, so none will answer
      return false;
    },
    async idle() {
      await jobs.idle();
      sandbox.resetLog(); // the stand-in's request log lives in this heap too
    },
    async close() {
      await core.close();
      await store.close();
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
