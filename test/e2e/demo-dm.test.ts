/**
 * `npm run demo -- --dm`: the journey by direct message, as a newcomer plays it — Ada's DMs
 * typed in the terminal, the bot's DMs printed — from hello to the confirmed Move, with the
 * sign-in link approved (the bot's callback finishes it: no code to paste) and micro.blog's
 * token given on the bot's one-time page. Each DM is a slow round trip, so they are counted:
 * nine at most, the first included.
 */
import { describe, expect, it } from "vitest";
import { startDemo } from "./demo.js";

describe("npm run demo -- --dm", () => {
  it("walks @ada@demo.social by DM to the confirmed Move to @ada@mb.demo in 6 messages", {
    timeout: 150_000,
  }, async () => {
    const d = startDemo(["--dm"]);
    const { proc: demo, sent, type } = d;
    try {
      await demo.waitFor(/DM demo: you are @ada@demo\.social/);
      await type(
        "hello",
        /✉ @fedimove: Hi! I'll move your Mastodon account[\s\S]*Which Mastodon server is your account on\?[\s\S]*1 · What changes exactly\?/,
      );
      await type("demo.social", /Tap to let me read your account/);
      await type("!signin", /Saved: 240 follows, 600 followers/);
      const saved = await d.next(/📎 following_accounts\.csv[^\n]*\n(http\S+\/d\/\S+)/, 10_000);
      // The file's one-time page: opening it shows a button; the download uses it up.
      expect((await fetch(saved[1]!)).status).toBe(200);
      const file = await fetch(saved[1]!, { method: "POST" });
      expect(await file.text()).toMatch(
        /^Account address,Show boosts,Notify on new posts,Languages\n/,
      );
      expect((await fetch(saved[1]!, { method: "POST" })).status).toBe(410);
      // micro.blog is asked for at once, on the bot's one-time page; another server one answer away.
      await d.next(
        /Moving to micro\.blog\?[\s\S]*Give me your micro\.blog token: http\S+\/f\/[\s\S]*2 · Another server instead/,
        10_000,
      );
      await type("!token", /I'll follow your 240 accounts on @ada@mb\.demo\./);
      await d.next(/1 · Follow them, then move/, 10_000);
      await type("1", /Done: 234 followed, 6 not found\./, 60_000);
      await d.next(/Two things on micro\.blog before the move:[\s\S]*1 · Both done/, 20_000);
      await type("!alias", /@ada@demo\.social added as an alias/);
      await type("1", /Before the move — all clear:[\s\S]*1 · I understand — move/);
      await type("1", /Now open demo\.social's move page, enter @ada@mb\.demo/);
      const beforeMove = demo.stdout().length;
      await type("!move", /the account now points to @ada@mb\.demo/);
      await type("1", /./);
      await demo.waitFor(/✅ @ada@demo\.social has moved to @ada@mb\.demo\./, 30_000, beforeMove);
      console.info(`direct messages sent (${sent.length}):`, sent);
      expect(sent).toEqual([
        "hello",
        "demo.social",
        "1", // Follow them, then move
        "1", // Both done
        "1", // I understand — move
        "1", // I've moved
      ]);
      expect(sent.length).toBeLessThanOrEqual(9);
      demo.child.stdin.end();
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.child.kill("SIGKILL");
    }
  });
});
