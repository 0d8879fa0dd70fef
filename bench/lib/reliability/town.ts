/**
 * Many people moving at once from one old Mastodon server to micro.blog: the move world of the
 * tests (test/helpers/worlds.ts, old.example and mb.example seeing each other) with one account
 * per person on each side, their follows (accounts micro.blog can resolve) and their followers
 * (on servers that follow along after the Move).
 */
import type { ChaosOptions } from "../../../sandbox/chaos.js";
import { type MoveWorld, startMoveWorld } from "../../../test/helpers/worlds.js";

export interface Person {
  /** The username on both servers. */
  username: string;
  /** A read token on the old server (what a person pastes instead of signing in). */
  oldToken: string;
  /** The micro.blog app token. */
  appToken: string;
  /** The accounts this person follows on the old server. */
  follows: string[];
  followers: number;
  /** Signs in to the old server by OAuth (pasting the code) rather than with the token. */
  oauth: boolean;
  /** Every token and code this person handed the bot (the secrets part looks for them). */
  secrets: string[];
}

export interface Town {
  world: MoveWorld;
  people: Person[];
  /** Random faults on both servers from now on (null: off). */
  setChaos(options: ChaosOptions | null): void;
  /** Faults given so far by both servers. */
  faultsInjected(): number;
  close(): Promise<void>;
}

export interface TownOptions {
  people: number;
  follows?: number;
  followers?: number;
  /** Every other person (the first among them) signs in by OAuth. */
  oauth?: boolean;
}

export async function startTown(opts: TownOptions): Promise<Town> {
  // Nobody on the default account: each person gets their own, so one world serves them all.
  const world = await startMoveWorld({ followers: [] });
  const { old, mb } = world;
  const people: Person[] = [];
  for (let i = 0; i < opts.people; i++) {
    const username = `person${i}`;
    old.addAccount({ username });
    const follows = old
      .seedFollows(username, opts.follows ?? 6, { domains: ["far.example", "wide.example"] })
      .map((f) => f.targetAcct);
    for (const acct of follows) mb.addRemote(acct, { exists: true });
    old.seedFollowers(username, opts.followers ?? 8, { domains: ["a.example", "b.example"] });
    const oldToken = old.issueToken(username);
    const appToken = mb.addUser(username);
    people.push({
      username,
      oldToken,
      appToken,
      follows,
      followers: opts.followers ?? 8,
      oauth: Boolean(opts.oauth) && i % 2 === 0,
      // What the person hands the bot: the app token, and the old token or (OAuth) the code.
      secrets: opts.oauth && i % 2 === 0 ? [appToken] : [oldToken, appToken],
    });
  }
  return {
    world,
    people,
    setChaos(options) {
      old.setChaos(options);
      // Another seed for the other server: the two don't fail in step.
      mb.setChaos(options && { ...options, seed: options.seed + 1 });
    },
    faultsInjected() {
      const sum = (c: Record<string, number> | null) =>
        Object.values(c ?? {}).reduce((a, b) => a + b, 0);
      return sum(old.chaosInjected) + sum(mb.chaosInjected);
    },
    close: () => world.close(),
  };
}
