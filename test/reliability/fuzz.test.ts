/**
 * A small run of the reliability harness's fuzzer (npm run reliability tries 1,000 inputs a
 * step): random text, files, stale and forged buttons and commands at every step the journey
 * reaches. Each gets a reply, nothing throws, nothing is left unhandled, and a step that isn't
 * working on its own keeps its state exactly.
 */
import { describe, expect, it } from "vitest";
import { runFuzz } from "../../bench/lib/reliability/fuzz.js";
import { JOURNEY } from "../../src/steps/index.js";

describe("random input at every step", () => {
  it("gets a reply each time and changes nothing", { timeout: 60_000 }, async () => {
    const f = await runFuzz({ perStep: 10, seed: 3 });
    expect(f.notes).toEqual([]);
    expect(f).toMatchObject({ crashes: 0, unhandledRejections: 0, silent: 0, stateChanged: 0 });
    // Every step the whole journey passes through was fuzzed (the shortened journey passes 12).
    expect(f.stepsFuzzed.length).toBeGreaterThanOrEqual(12);
    expect(f.stepsFuzzed.every((s) => JOURNEY.includes(s))).toBe(true);
    expect(f.inputsTried).toBeGreaterThanOrEqual(10 * f.stepsFuzzed.length);
  });
});
