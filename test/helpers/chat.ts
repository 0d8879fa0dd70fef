/**
 * A conversation with the engine as a user would have it: send text, press the
 * buttons you were shown, read the replies as plain text. Uses the real engine,
 * job runner and steps over an in-memory store.
 */
import { randomBytes } from "node:crypto";
import type { Input, Reply, UserKey } from "../../src/chat/conversation.js";
import { plain } from "../../src/chat/text.js";
import { MICROBLOG_LIMIT } from "../../src/clients/microblog.js";
import type { World } from "../../src/clients/world.js";
import { createCore } from "../../src/core.js";
import type { WatchOptions } from "../../src/jobs/watch-job.js";
import { STATE_VERSION, type State } from "../../src/model/state.js";
import { type OriginRule, Pacer } from "../../src/net/pacer.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { Sealer } from "../../src/store/seal.js";
import type { Store } from "../../src/store/store.js";

export interface Said {
  /** Each reply as the user would read it: text, or "📎 name" for a file. */
  lines: string[];
  text: string;
  secret: boolean;
  replies: readonly Reply[];
}

export function render(replies: readonly Reply[]): string[] {
  return replies.map((r) => (r.kind === "file" ? `📎 ${r.name}` : plain(r.text)));
}

/** The real world (HTTP layer, OAuth) over loopback, against the stand-ins. */
export interface Loopback {
  publicUrl?: string;
  now?: () => number;
  microblogUrl?: string;
  microblogDomain?: string;
  /** Servers the preview should find not answering; the rest answer (no DNS is asked). */
  down?: readonly string[];
  /** Domains (old.example) mapped to the stand-ins that play them. */
  origins?: Record<string, string>;
}

const isWorld = (setup: World | Loopback): setup is World => "probeMastodon" in setup;

/** The watch at test speed: polls every 40 ms, settled after 400 ms, no budget to run out. */
export const FAST_WATCH: Partial<WatchOptions> = {
  budgetPerHour: 1_000_000,
  pollEarlyMs: 40,
  earlyForMs: 0,
  pollLateMs: 40,
  settleMs: 400,
  capMs: 20_000,
  forgetAfterMs: 60_000,
};

/**
 * A chat with one user over the bot's own core (createCore): over loopback to
 * the stand-ins, or with a fake world for tests that need no server.
 */
export async function makeChat(
  setup: World | Loopback = {},
  opts: {
    store?: Store;
    user?: UserKey;
    sealer?: Sealer;
    dayMs?: number;
    pollMs?: number;
    watch?: Partial<WatchOptions>;
    /** micro.blog's limit with these figures in place of its own (a window and block in ms). */
    microblogRule?: Partial<OriginRule>;
    /** How long one request may take before it counts as failed (default 5 s). */
    timeoutMs?: number;
    /** The import's first wait before asking about a follow that failed for a passing reason. */
    importRetryMs?: number;
    /** How long a job's lease outlives a process that stopped renewing it (default 15 s). */
    jobLeaseMs?: number;
  } = {},
) {
  const store = opts.store ?? openMemoryStore();
  const sealer = opts.sealer ?? new Sealer(randomBytes(32));
  const loopback = isWorld(setup) ? {} : setup;
  const down = new Set(loopback.down ?? []);
  let pacer: Pacer | undefined;
  if (opts.microblogRule && loopback.microblogUrl) {
    pacer = new Pacer(50);
    pacer.rule(loopback.microblogUrl, { ...MICROBLOG_LIMIT, ...opts.microblogRule });
  }
  const core = createCore({
    store,
    sealer,
    network: {
      allowPrivateNetwork: true,
      timeoutMs: opts.timeoutMs ?? 5000,
      backoffMs: 20,
      pacerMarginMs: 50,
      ...(pacer ? { pacer } : {}),
      publicUrl: loopback.publicUrl,
      microblog: loopback.microblogUrl
        ? {
            origin: loopback.microblogUrl,
            domain: loopback.microblogDomain ?? "micro.blog",
          }
        : undefined,
      // Any other domain is a server that refuses connections: no DNS is ever asked in tests.
      originOf: (host) =>
        loopback.origins?.[host] ??
        (/^127\.0\.0\.1:\d+$/.test(host) ? `http://${host}` : "http://127.0.0.1:9"),
    },
    world: (real) =>
      isWorld(setup)
        ? setup
        : {
            ...real,
            serversAnswering: async (hosts) => new Set(hosts.filter((h) => !down.has(h))),
          },
    now: loopback.now,
    dayMs: opts.dayMs,
    pollMs: opts.pollMs,
    watch: opts.watch,
    importRetryMs: opts.importRetryMs,
    jobLeaseMs: opts.jobLeaseMs,
  });
  const { engine, jobs } = core;
  const user: UserKey = opts.user ?? "tg:1";
  const notified: Reply[] = [];
  let seq = 0;
  let choices: { id: string; label: string }[] = [];
  engine.notifier = {
    async notify(_user, replies, s) {
      notified.push(...replies);
      if (s !== undefined) seq = s;
      remember(replies);
    },
  };

  /** The buttons a user can press are those of the newest message that had any. */
  function remember(replies: readonly Reply[]) {
    const withChoices = replies.filter((r) => r.kind === "say" && r.choices?.length);
    const last = withChoices[withChoices.length - 1];
    if (last?.kind === "say") choices = [...(last.choices ?? [])];
  }

  async function send(input: Input | string): Promise<Said> {
    const actual: Input =
      typeof input !== "string"
        ? input
        : input.startsWith("/")
          ? { kind: "command", name: input.slice(1) as never, args: "" }
          : { kind: "text", text: input };
    const turn = await engine.receive(user, actual, async () => {});
    seq = turn.seq;
    remember(turn.replies);
    const lines = render(turn.replies);
    return { lines, text: lines.join("\n"), secret: turn.secret, replies: turn.replies };
  }

  return {
    core,
    engine,
    jobs,
    store,
    sealer,
    user,
    notified,
    send,
    /** Press a button from the latest message that had buttons. */
    press(label: string, stale?: number): Promise<Said> {
      const c = choices.find((x) => x.label === label);
      if (!c)
        throw new Error(`no button "${label}" among ${choices.map((x) => x.label).join(", ")}`);
      return send({ kind: "choice", id: c.id, seq: stale ?? seq });
    },
    get seq() {
      return seq;
    },
    /** The buttons the user can press now. */
    get choices(): readonly { id: string; label: string }[] {
      return choices;
    },
    state: () => engine.state(user),
    /** Waits (polling the saved state) until the journey reaches what `done` looks for. */
    async until(done: (state: State | undefined) => boolean, timeoutMs = 15_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!done(await engine.state(user))) {
        if (Date.now() > deadline)
          throw new Error(`timed out; the state is ${JSON.stringify(await engine.state(user))}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      await jobs.idle();
    },
    /** Puts the user at a step directly, as if the journey had led there. */
    async placeAt(state: State): Promise<void> {
      await store
        .namespace("users")
        .set(user, { v: STATE_VERSION, seq: 1, state, history: [], updatedAt: Date.now() });
      seq = 1;
    },
  };
}
