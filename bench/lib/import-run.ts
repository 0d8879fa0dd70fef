/**
 * One round of follow imports, started as users start them: each user sits at the import
 * preview with their follows in the store (as if uploaded and micro.blog connected) and
 * presses "Start following"; the real engine saves `importing` and starts the real
 * import-follows job. Everything is wired as src/app.ts wires it — engine, World with a
 * MicroblogClient over Http and GuardedDispatcher/Pacer, SQLite store, JobRunner with
 * registerJobs — with the time constants given here, against the micro.blog stand-in in
 * this process with its per-IP limit on and a latency on every request. All users share one
 * dispatcher and client, as in one bot process. Hands back the stand-in's log, when the
 * round began and ended, and what each user was told.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type RequestLogEntry, startMicroblogSandbox } from "../../sandbox/microblog.js";
import type { UserKey } from "../../src/chat/conversation.js";
import { plain } from "../../src/chat/text.js";
import { MICROBLOG_LIMIT } from "../../src/clients/microblog.js";
import { type Core, createCore } from "../../src/core.js";
import { emptySnapshot } from "../../src/model/snapshot.js";
import { type FollowRow, Saved, STATE_VERSION } from "../../src/model/state.js";
import { Pacer } from "../../src/net/pacer.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";
import { snapshots } from "../../src/store/user-data.js";

export const DOMAIN = "mb.example";

export interface ImportRunOptions {
  users: number;
  followsPerUser: number;
  latencyMs: number;
  rateLimit: { limit: number; windowMs: number };
  /** The pacer rule's block after a 403 (production: 60,000, micro.blog's window). */
  blockMs: number;
  /** The Pacer's slack past a block and a window (production: 250). */
  pacerSlackMs: number;
  /** HTTP_TIMEOUT_MS (production default: 15,000). */
  httpTimeoutMs: number;
  /** Http's first backoff before a retry (production: 500). */
  httpBackoffMs?: number;
}

export interface ImportRun {
  /** Every request the stand-in saw during the imports, in arrival order. */
  log: RequestLogEntry[];
  /** micro.blog username of each user, and the handles they were to follow. */
  people: { username: string; handles: string[] }[];
  /** Date.now() just before the users pressed "Start following", and when the last job ended. */
  startedAt: number;
  endedAt: number;
  /** The report line each user was told (or the first other message), by username. */
  told: Map<string, string>;
  /** Date.now() when each user was told that line, by username. */
  toldAt: Map<string, number>;
  /** Progress updates sent, all users together. */
  progressUpdates: number;
  /** Whom each user follows on the stand-in afterwards. */
  followingAfter: Map<string, string[]>;
}

export async function runImport(opts: ImportRunOptions): Promise<ImportRun> {
  const mb = await startMicroblogSandbox({ rateLimit: null, domain: DOMAIN });
  mb.setLatency(opts.latencyMs);
  const dir = mkdtempSync(join(tmpdir(), "fedimove-bench-import-"));
  const store = await openStore(`sqlite:${dir}/bench.sqlite`);
  const pacer = new Pacer(opts.pacerSlackMs);
  // micro.blog's rule, scaled: the bench's R per window, and its block after a 403.
  pacer.rule(mb.url, {
    ...MICROBLOG_LIMIT,
    limit: opts.rateLimit.limit,
    windowMs: opts.rateLimit.windowMs,
    blockMs: opts.blockMs,
  });
  // The pacer spaces requests by the rule above; the client keeps it, not micro.blog's own.
  const core = createCore({
    store,
    sealer: new Sealer(randomBytes(32)),
    network: {
      allowPrivateNetwork: true,
      timeoutMs: opts.httpTimeoutMs,
      backoffMs: opts.httpBackoffMs,
      originOf: (host) => `http://${host}`,
      microblog: { origin: mb.url, domain: DOMAIN },
      pacer,
    },
  });
  try {
    const { engine, jobs } = core;

    const told = new Map<string, string>();
    const toldAt = new Map<string, number>();
    let progressUpdates = 0;
    const usernameOf = new Map<UserKey, string>();
    engine.notifier = {
      async notify(user, replies) {
        const username = usernameOf.get(user)!;
        for (const r of replies) {
          if (r.kind === "progress") progressUpdates += 1;
          else if (r.kind === "say" && !toldAt.has(username)) {
            // The first message that isn't progress is the report, or why the import stopped.
            told.set(username, plain(r.text));
            toldAt.set(username, Date.now());
          }
        }
      },
    };

    // Each user: a micro.blog account, follows that micro.blog can resolve, a snapshot in
    // the store and the saved state of the preview with its "Start following" button.
    const now = Date.now();
    const people: ImportRun["people"] = [];
    const users: UserKey[] = [];
    for (let k = 0; k < opts.users; k++) {
      const username = `user${k}`;
      const token = mb.addUser(username);
      const handles = Array.from(
        { length: opts.followsPerUser },
        (_, i) => `u${k}f${i}@host${i % 25}.example`,
      );
      for (const h of handles) mb.addRemote(h, { exists: true });
      const user: UserKey = `tg:${k + 1}`;
      usernameOf.set(user, username);
      await seedPreview(core, user, username, token, handles, now);
      people.push({ username, handles });
      users.push(user);
    }

    // The limit counts from here, with fresh windows, and the log holds the imports only.
    // Start just after a window boundary, so the first window is a whole one.
    mb.setRateLimit(opts.rateLimit);
    const w = opts.rateLimit.windowMs;
    await sleep(w - (Date.now() % w) + 2);
    mb.resetLog();
    const startedAt = Date.now();
    await Promise.all(
      users.map(async (user) => {
        const turn = await engine.receive(
          user,
          { kind: "choice", id: "start", seq: 1 },
          async () => {},
        );
        if ((await engine.state(user))?.step !== "importing")
          throw new Error(`no import started: ${turn.replies.map((r) => r.kind).join()}`);
      }),
    );
    await jobs.idle();
    const endedAt = Date.now();

    const followingAfter = new Map(people.map((p) => [p.username, mb.followingOf(p.username)]));
    await jobs.stop();
    return {
      log: [...mb.requests],
      people,
      startedAt,
      endedAt,
      told,
      toldAt,
      progressUpdates,
      followingAfter,
    };
  } finally {
    await core.close();
    await store.close();
    await mb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A user at the import preview: their follows in the store as a snapshot, micro.blog
 * connected with `token`, and the saved state with its "Start following" button (seq 1).
 */
export async function seedPreview(
  core: Core,
  user: UserKey,
  username: string,
  token: string,
  handles: readonly string[],
  now: number,
): Promise<void> {
  const rows: FollowRow[] = handles.map((acct) => ({
    acct,
    reblogs: true,
    notify: false,
    languages: null,
  }));
  await snapshots(core.store).set(user, { ...emptySnapshot(now), follows: rows });
  const saved = Saved.parse({
    v: STATE_VERSION,
    seq: 1,
    state: {
      step: "import-preview",
      source: {
        kind: "file",
        instance: {
          origin: "https://old.example",
          host: "old.example",
          domain: "old.example",
          version: "4.3.0",
        },
        name: "following_accounts.csv",
      },
      follows: rows.length,
      snapshotAt: now,
      target: {
        kind: "microblog",
        domain: DOMAIN,
        username,
        handle: `${username}@${DOMAIN}`,
        token: core.sealer.seal(token),
      },
      preview: {
        toFollow: rows.length,
        already: 0,
        unreachable: 0,
        unreachableServers: [],
        dailyLimit: null,
      },
    },
    history: [],
    updatedAt: now,
  });
  await core.store.namespace("users").set(user, saved);
}
