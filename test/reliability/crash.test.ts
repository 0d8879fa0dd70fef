/**
 * The reliability harness's crash part, small: the real bot process on Telegram, SIGKILLed at
 * random moments of a whole journey and started again each time, against the stand-ins in this
 * process: the journey finishes, nothing is lost, no follow and no reply is sent twice, one
 * finished message, and the killed processes' output holds no crash of their own and no token.
 */
import { describe, expect, it } from "vitest";
import { runCrashes } from "../../bench/lib/reliability/crash.js";

describe("the bot SIGKILLed during whole journeys", () => {
  it("finishes every journey with nothing lost, no follow or reply twice, no crash or token in the logs", {
    timeout: 120_000,
  }, async () => {
    const f = await runCrashes({
      people: 1,
      kills: 2,
      seed: 5,
      maxLifeMs: 4000,
      deadlineMs: 90_000,
    });
    expect(f.crashesSurvived).toBe(2);
    expect(f.notes).toEqual([]);
    expect(f).toMatchObject({
      journeys: 1,
      finished: 1,
      lost: 0,
      duplicates: 0,
      repeatedReplies: 0,
      problems: 0,
      secretsFound: 0,
    });
    expect(f.logChars).toBeGreaterThan(0);
  });
});
