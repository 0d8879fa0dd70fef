/**
 * The two servers of a move, seeing each other the way real ones do: Ada's old
 * Mastodon server (old.example) and micro.blog (mb.example), each a stand-in on
 * loopback that resolves the other's domain. Every test of the alias, the Move,
 * the watch and the whole journey starts from here, and leaves it closed.
 */
import {
  type MastodonSandbox,
  type MastodonSandboxOptions,
  startMastodonSandbox,
} from "../../sandbox/mastodon.js";
import { type MicroblogSandbox, startMicroblogSandbox } from "../../sandbox/microblog.js";
import type { Sealed } from "../../src/model/sealed.js";
import { emptySnapshot, type Snapshot } from "../../src/model/snapshot.js";
import type { State, StateOf, Target } from "../../src/model/state.js";
import type { Loopback } from "./chat.js";
import { closedAfterEach } from "./closing.js";

export const OLD = "old.example";
export const MB = "mb.example";

export interface MoveWorld {
  old: MastodonSandbox;
  mb: MicroblogSandbox;
  /** Domains → the stand-ins that play them (the bot's SANDBOX_ORIGINS). */
  origins: Record<string, string>;
  /** Ada's micro.blog app token. */
  appToken: string;
  /** What the chat helper needs to reach this world. */
  loopback: Loopback;
  /** The bot process's environment for this world. */
  env: Record<string, string>;
  /** Where the journey would leave Ada at `step`: follows from a file, micro.blog connected. */
  stateAt<K extends "alias" | "preflight" | "move">(
    step: K,
    sealer: { seal(s: string): string },
    extra?: Partial<StateOf<K>>,
  ): State;
  /** The snapshot taken before the Move, counting this many followers. */
  snapshot(followers: number): Snapshot;
  close(): Promise<void>;
}

export interface MoveWorldOptions {
  /** The old server's Mastodon version. */
  oldVersion?: string;
  /** Ada's followers on the old server, by server; default 30 on a.example and b.example. */
  followers?: { count: number; domains?: string[] }[];
  /** The old server hides Ada's followers list. */
  hideCollections?: boolean;
  /** Ada has added her old account as an alias on micro.blog already. */
  alias?: boolean;
  /** Domains that never answer (their followers never move). */
  silent?: string[];
  /** The old server's harsh modes: secure mode, a closed API. */
  oldModes?: Pick<MastodonSandboxOptions, "authorizedFetch" | "closedApi">;
}

export async function startMoveWorld(opts: MoveWorldOptions = {}): Promise<MoveWorld> {
  const mb = await startMicroblogSandbox({ rateLimit: null, domain: MB });
  const origins: Record<string, string> = { [MB]: mb.url };
  const old = await startMastodonSandbox({
    domain: OLD,
    rateLimit: null,
    originOf: (h) => origins[h] ?? null,
    version: opts.oldVersion,
    ...opts.oldModes,
  });
  origins[OLD] = old.url;
  for (const d of opts.silent ?? []) origins[d] = "http://127.0.0.1:9";
  old.addAccount({ username: "ada", hideCollections: opts.hideCollections });
  for (const f of opts.followers ?? [{ count: 30, domains: ["a.example", "b.example"] }]) {
    old.seedFollowers("ada", f.count, f.domains ? { domains: f.domains } : undefined);
  }
  const appToken = mb.addUser("ada");
  if (opts.alias) mb.addAlias("ada", old.actorUri("ada"));
  return {
    old,
    mb,
    origins,
    appToken,
    loopback: { microblogUrl: mb.url, microblogDomain: MB, origins },
    env: {
      ALLOW_PRIVATE_NETWORK: "true",
      SANDBOX_ORIGINS: JSON.stringify(origins),
      MICROBLOG_URL: mb.url,
      MICROBLOG_DOMAIN: MB,
    },
    stateAt(step, sealer, extra = {}) {
      return {
        step,
        source: {
          kind: "file",
          instance: { origin: old.url, host: OLD, domain: OLD, version: "4.3.2" },
          name: "following_accounts.csv",
        },
        follows: 0,
        snapshotAt: Date.now(),
        target: {
          kind: "microblog",
          domain: MB,
          username: "ada",
          handle: `ada@${MB}`,
          token: sealer.seal(appToken),
        },
        oldHandle: `ada@${OLD}`,
        ...(step === "move" ? { confirmedAt: Date.now() } : {}),
        ...extra,
      } as State;
    },
    snapshot: (followers) => ({
      ...emptySnapshot(Date.now()),
      followers: { accts: [], count: followers, hidden: false },
    }),
    async close() {
      await old.close();
      await mb.close();
    },
  };
}

/** startMoveWorld, with every world a test opened closed after it. */
export function moveWorlds(): (opts?: MoveWorldOptions) => Promise<MoveWorld> {
  const closing = closedAfterEach<MoveWorld>();
  return async (opts) => closing(await startMoveWorld(opts));
}

/**
 * Ada's account on new.example, a Mastodon stand-in (in `modes`, e.g. secure mode) that sees
 * the world's servers and is seen by them, her old account set as its alias. The caller closes it.
 */
export async function startNewMastodon(
  world: Pick<MoveWorld, "old" | "origins">,
  modes: Pick<MastodonSandboxOptions, "authorizedFetch"> = {},
): Promise<MastodonSandbox> {
  const neu = await startMastodonSandbox({
    domain: "new.example",
    rateLimit: null,
    originOf: (h) => world.origins[h] ?? null,
    ...modes,
  });
  world.origins["new.example"] = neu.url;
  try {
    neu.addAccount({ username: "ada" });
    await neu.addAlias("ada", world.old.actorUri("ada"));
  } catch (err) {
    await neu.close();
    throw err;
  }
  return neu;
}

/** A state's target: `username`'s account on a Mastodon stand-in, its token sealed. */
export function mastodonTarget(
  server: MastodonSandbox,
  username: string,
  sealer: { seal(s: string): Sealed },
  token = "unused",
): Target {
  return {
    kind: "mastodon",
    instance: {
      origin: server.url,
      host: server.domain,
      domain: server.domain,
      version: "4.3.2",
    },
    id: server.getAccount(username)!.id,
    handle: `${username}@${server.domain}`,
    token: sealer.seal(token),
  };
}
