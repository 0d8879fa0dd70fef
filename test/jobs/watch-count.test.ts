/**
 * The watcher counts followers from the old account's profile: a profile without a count (or a
 * fork's -1 for a hidden one) is not 0 followers. Taken for 0, the watch would end at once with
 * "no followers to move" (or "0 of 0") against an account that had eight.
 */
import { describe, expect, it } from "vitest";
import type { World } from "../../src/clients/world.js";
import { watchJob } from "../../src/jobs/watch-job.js";
import { openMemoryStore } from "../../src/store/memory-store.js";

function profileWithout(count?: number) {
  const account = { id: "1", username: "ada", acct: "ada", followers_count: count };
  return {
    mastodon: () => ({ lookup: async () => account }),
    fediverse: { actorOf: async () => null, signs: false },
  } as unknown as World;
}

async function firstPoll(world: World) {
  const events: { event: string }[] = [];
  const handler = watchJob({ world, store: openMemoryStore() });
  const again = await handler.run(
    {
      id: "w1",
      user: "tg:1",
      kind: "watch",
      data: { origin: "http://old.example", username: "ada", startedAt: Date.now() },
      cursor: undefined,
    },
    {
      signal: new AbortController().signal,
      save: async () => undefined,
      report: async (e) => {
        events.push(e);
        return "taken" as const;
      },
      wanted: async () => true,
    },
  );
  return { events, again };
}

describe("the watcher's count", () => {
  for (const [what, count] of [
    ["no followers_count", undefined],
    ["followers_count -1", -1],
  ] as const) {
    it(`a profile with ${what} doesn't end the watch as 0 followers`, async () => {
      const { events, again } = await firstPoll(profileWithout(count));
      expect(events.map((e) => e.event)).toEqual(["unreadable"]);
      expect(again).toMatchObject({ again: expect.any(Number) });
    });
  }
});
