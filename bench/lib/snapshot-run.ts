/**
 * One snapshot, started the way a user starts it (pasting a token), through the real
 * engine, World (GuardedDispatcher, Pacer and Http with the production defaults of
 * src/app.ts), SQLite store, job runner and snapshot job, against the Mastodon stand-in in
 * this process with its rate limits on and a latency on every request. Hands back what
 * happened: the stand-in's request log, when the job ran, what the pacer did and what the
 * user was told.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type RateLimitConfig,
  type RequestLogEntry,
  startMastodonSandbox,
} from "../../sandbox/mastodon.js";
import type { Input, Reply, UserKey } from "../../src/chat/conversation.js";
import { plain } from "../../src/chat/text.js";
import { READ_SCOPES } from "../../src/clients/sign-in.js";
import { createCore } from "../../src/core.js";
import type { Turn } from "../../src/engine/engine.js";
import { Pacer } from "../../src/net/pacer.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";

export interface SnapshotRunOptions {
  follows: number;
  followers: number;
  latencyMs: number;
  rateLimit: RateLimitConfig;
  /** HTTP_TIMEOUT_MS; the production default is 15,000. */
  httpTimeoutMs: number;
  /** Paste the token when the per-token window has this long left; default: at once. */
  startWithMsLeft?: number;
}

export interface Notice {
  at: number;
  reply: Reply;
}

/** A take() that found the window spent: the pacer held the request until `until`. */
export interface PacerWait {
  at: number;
  until: number;
}

export interface SnapshotRun {
  /** Every request the stand-in saw, sign-in included, in arrival order. */
  log: RequestLogEntry[];
  /** The Doorkeeper token id of the account's token, as the log names it. */
  tokenId: string;
  /** Date.now() when the snapshot job's run() was entered and when it returned. */
  jobStart: number;
  jobEnd: number;
  /** Requests handed to the pacer by the job (attempts, the ones given up on included). */
  attempts: number;
  waits: PacerWait[];
  /** What the job told the user, in order, with when. */
  notices: Notice[];
  /** Whether the two files arrived. */
  delivered: boolean;
  /** The first thing the job said: the summary ("Saved: …") or why it stopped. */
  outcome: string;
}

/** The production Pacer, watched: how often it was asked, and when it made a request wait. */
class WatchedPacer extends Pacer {
  attempts = 0;
  readonly waits: PacerWait[] = [];

  override take(bucket: string, host: string): Promise<void> {
    this.attempts += 1;
    const w = this.state(bucket);
    const now = Date.now();
    if (w && w.remaining <= 0 && now < w.resetAt) this.waits.push({ at: now, until: w.resetAt });
    return super.take(bucket, host);
  }
}

export async function runSnapshot(opts: SnapshotRunOptions): Promise<SnapshotRun> {
  const sandbox = await startMastodonSandbox({
    domain: "social.example",
    rateLimit: opts.rateLimit,
  });
  sandbox.addAccount({ username: "ada" });
  sandbox.seedFollows("ada", opts.follows);
  sandbox.seedFollowers("ada", opts.followers);
  // The scopes the bot asks for, so every part is read.
  const token = sandbox.issueToken("ada", READ_SCOPES.split(" "));
  sandbox.setLatency(opts.latencyMs);

  const dir = mkdtempSync(join(tmpdir(), "fedimove-bench-snapshot-"));
  const store = await openStore(`sqlite:${dir}/bench.sqlite`);
  const pacer = new WatchedPacer();
  let jobStart = 0;
  let jobEnd = 0;
  let attemptsBefore = 0;
  const core = createCore({
    store,
    sealer: new Sealer(randomBytes(32)),
    network: {
      allowPrivateNetwork: true,
      timeoutMs: opts.httpTimeoutMs,
      originOf: (host) => `http://${host}`,
      pacer,
    },
    handlers: ({ snapshot }) => ({
      snapshot: {
        ...snapshot,
        async run(job, control) {
          jobStart = Date.now();
          attemptsBefore = pacer.attempts;
          try {
            return await snapshot.run(job, control);
          } finally {
            jobEnd = Date.now();
          }
        },
      },
    }),
  });
  const { engine, jobs } = core;

  const user: UserKey = "tg:1";
  const notices: Notice[] = [];
  engine.notifier = {
    async notify(_user, replies) {
      const at = Date.now();
      for (const reply of replies) notices.push({ at, reply });
    },
  };

  try {
    const send = (input: Input): Promise<Turn> => engine.receive(user, input, async () => {});
    // The welcome asks for the server at once.
    await send({ kind: "command", name: "start", args: "" });
    const server = await send({ kind: "text", text: sandbox.url });
    await send({ kind: "choice", id: "token", seq: server.seq }); // "Paste a token instead"
    if (opts.startWithMsLeft !== undefined) {
      const w = opts.rateLimit.windowMs;
      const left = w - (Date.now() % w);
      await sleep((left - opts.startWithMsLeft + w) % w);
    }
    const signedIn = await send({ kind: "text", text: token });
    const said = signedIn.replies.map((r) => (r.kind === "say" ? plain(r.text) : ""));
    if (!said.some((s) => s.startsWith("Signed in")))
      throw new Error(`sign-in refused: ${said.join(" ")}`);
    await jobs.idle();

    const log = [...sandbox.requests];
    const tokenId = log.find((q) =>
      q.path.startsWith("/api/v1/accounts/verify_credentials"),
    )?.tokenId;
    if (!tokenId) throw new Error("no verify_credentials in the stand-in's log");
    const told = notices.flatMap((n) => (n.reply.kind === "say" ? [plain(n.reply.text)] : []));
    return {
      log,
      tokenId,
      jobStart,
      jobEnd,
      attempts: pacer.attempts - attemptsBefore,
      waits: pacer.waits.filter((w) => w.at >= jobStart),
      notices,
      delivered: notices.some((n) => n.reply.kind === "file"),
      outcome: told[0] ?? "(nothing)",
    };
  } finally {
    await core.close();
    await store.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
