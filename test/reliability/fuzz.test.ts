/**
 * A small run of the reliability harness's fuzzer (npm run reliability tries 1,000 inputs at
 * each place): random text, files, stale and forged buttons and commands at the wrong moment,
 * at every step of the registry — walked to, or put in place with a state built for it — on
 * Telegram's traits and on a Mastodon DM's (typed text only), with and without the bot's
 * one-time pages. Each input gets a reply, nothing throws, nothing is left unhandled, and a
 * step that isn't working on its own keeps its state exactly.
 */
import { describe, expect, it } from "vitest";
import { CHANNELS, runFuzz } from "../../bench/lib/reliability/fuzz.js";
import { JOURNEY } from "../../src/steps/index.js";

describe("random input at every step", () => {
  it("gets a reply each time and changes nothing", { timeout: 60_000 }, async () => {
    // One input of each kind at every place: six on Telegram's traits, three typed on a DM's.
    const f = await runFuzz({ perStep: 6, dmPerStep: 3, seed: 3 });
    expect(f.notes).toEqual([]);
    expect(f).toMatchObject({ crashes: 0, unhandledRejections: 0, silent: 0, stateChanged: 0 });
    // Every step of the registry was fuzzed, or is excused with its reason.
    expect(f.stepsMissed).toEqual([]);
    expect(f.unbuilt).toEqual([]);
    expect([...f.stepsFuzzed, ...Object.keys(f.excused)].sort()).toEqual([...JOURNEY].sort());
    // On each channel's traits, every step that isn't excused.
    for (const channel of CHANNELS) {
      const steps = new Set(
        f.places
          .filter((p) => p.startsWith(`${channel.name}: `))
          .map((p) => p.slice(channel.name.length + 2).split(" ")[0]),
      );
      expect([...steps].sort(), channel.name).toEqual(JOURNEY.filter((s) => !f.excused[s]).sort());
    }
    expect(f.inputsTried).toBeGreaterThanOrEqual(3 * f.places.length);
  });
});
