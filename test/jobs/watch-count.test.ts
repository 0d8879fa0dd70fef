/**
 * The watcher counts followers from the old account's profile: a profile without a count (or a
 * fork's -1 for a hidden one) is not 0 followers. Taken for 0, the watch would end at once with
 * "no followers to move" (or "0 of 0") against an account that had eight.
 */
import { describe, expect, it, vi } from "vitest";
import type { World } from "../../src/clients/world.js";
import { type WatchCursor, watchJob } from "../../src/jobs/watch-job.js";
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

describe("when a settled count is called settled", () => {
  const HOUR = 3_600_000;
  /** A profile whose count the test sets, and a public list that shows nobody (hidden). */
  function profile(count: () => number) {
    return {
      mastodon: () => ({
        lookup: async () => ({ id: "1", username: "ada", acct: "ada", followers_count: count() }),
        page: async () => ({ items: [] }),
      }),
      fediverse: { actorOf: async () => null, signs: false },
    } as unknown as World;
  }

  /** Polls at the given hours; the hour of the poll that reported the end, if one did. */
  async function endsAt(counts: Record<number, number>): Promise<number | undefined> {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const start = Date.UTC(2026, 0, 1);
      let hour = 0;
      const handler = watchJob({
        world: profile(() => counts[hour]!),
        store: openMemoryStore(),
        options: { pollEarlyMs: HOUR, earlyForMs: 0, pollLateMs: HOUR, settleMs: 3 * HOUR },
      });
      let cursor: WatchCursor | undefined;
      let ended: number | undefined;
      for (hour of Object.keys(counts).map(Number)) {
        vi.setSystemTime(start + hour * HOUR);
        await handler.run(
          {
            id: "w1",
            user: "tg:1",
            kind: "watch",
            data: { origin: "http://old.example", username: "ada", startedAt: start },
            cursor,
          },
          {
            signal: new AbortController().signal,
            save: async (c) => {
              cursor = c;
            },
            report: async (e) => {
              if (e.event === "finished") ended ??= hour;
              return "taken" as const;
            },
            wanted: async () => true,
          },
        );
      }
      return ended;
    } finally {
      vi.useRealTimers();
    }
  }

  it("counts the quiet from the poll before the change: the end within settle + one poll of the last leaving", async () => {
    // The last follower leaves between the polls at 1 h and 2 h; settled after 3 h.
    const counts = { 0: 5, 1: 5, 2: 4, 3: 4, 4: 4, 5: 4, 6: 4 };
    // Quiet since 1 h: the poll at 4 h ends it (counted from 2 h, it would wait for 5 h).
    expect(await endsAt(counts)).toBe(4);
  });

  it("never ends at the poll that saw the change, however long since the poll before", async () => {
    const counts = { 0: 5, 1: 5, 6: 4, 7: 4 };
    expect(await endsAt(counts)).toBe(7);
  });
});
