/**
 * The reliability harness's crash part, small: the real bot process on Telegram, SIGKILLed at
 * random moments of a whole journey and started again each time, against the stand-ins in this
 * process. What main guarantees today: the journey finishes, nothing is lost, no follow is sent
 * twice, one finished message. (That no reply is ever sent twice waits for the reply outbox:
 * `npm run reliability` counts the repeats in its table.)
 */
import { describe, expect, it } from "vitest";
import { runCrashes } from "../../bench/lib/reliability/crash.js";

describe("the bot SIGKILLed during whole journeys", () => {
  it("finishes every journey with nothing lost and no follow twice", {
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
    expect(f).toMatchObject({ journeys: 1, finished: 1, lost: 0, duplicates: 0 });
  });
});
