/**
 * A small run of the reliability harness's faults part (npm run reliability runs 100 people):
 * people walking the whole journey while a tenth of the bot's requests to both servers fail at
 * random — 5xx, timeouts, resets, slow, malformed JSON, broken Link headers, bodies cut short.
 * Every journey finishes with nothing lost and no follow sent twice.
 */
import { describe, expect, it } from "vitest";
import { runFaults } from "../../bench/lib/reliability/faults.js";

describe("the whole journey with 10% of requests failing", () => {
  it("finishes for everyone: no step, follow or follower lost, no follow twice, one finished message", {
    timeout: 60_000,
  }, async () => {
    const figures = await runFaults({ people: 6, rate: 0.1, seed: 11, deadlineMs: 45_000 });
    expect(figures.notes).toEqual([]);
    expect(figures).toMatchObject({ journeys: 6, finished: 6, lost: 0, duplicates: 0 });
    expect(figures.faultsInjected).toBeGreaterThan(0);
  });
});
