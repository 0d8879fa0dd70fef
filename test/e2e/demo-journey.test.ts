/**
 * The whole journey, as a person walks it in `npm run demo`: from hello to the
 * finished message, through the real process, the terminal channel and both
 * stand-ins (demo.social and mb.demo), with the demo playing the web pages.
 * Signing in here is by pasted token, and the messages she sends are counted:
 * nine at most from /start to the confirmed Move.
 */
import { describe, expect, it } from "vitest";
import { demoCredentials, signInByToken, startDemo } from "./demo.js";

describe("npm run demo: the whole journey", () => {
  it("moves @ada@demo.social to @ada@mb.demo in 9 messages with a pasted token, and reports who stayed", {
    timeout: 150_000,
  }, async () => {
    // The terminal sends /start by itself when it opens: it counts as her first message.
    const d = startDemo([], ["/start"]);
    const { proc: demo, sent, type } = d;
    try {
      const { url, oldToken, appToken } = await demoCredentials(d);
      await signInByToken(d, { url, oldToken });
      const preview = await type(appToken, /I'll follow your (\d+) accounts on @ada@mb\.demo\./);
      expect(preview[1]).toBe("240");
      await d.next(/\[1\] Follow them, then move/, 10_000);
      await type("1", /Done: 234 followed, 6 not found\./, 60_000);
      await d.next(/📎 not-followed\.csv saved to/, 10_000);
      // Straight on to the alias and cross-posting, asked together: no "Move now?" in between.
      await d.next(/Two things on micro\.blog before the move:[\s\S]*\[1\] Both done/, 10_000);
      expect(d.printed()).not.toMatch(/Want to try/);
      await type("!alias", /@ada@demo\.social added as an alias/);
      const checks = await type(
        "1",
        /✅ @ada@mb\.demo lists @ada@demo\.social as an alias[\s\S]*Before the move — all clear:[\s\S]*\[1\] I understand — move/,
      );
      expect(checks[0]).toContain(
        "ℹ️ Whether each follower comes along depends on their own server",
      );
      expect(checks[0]).toContain("600 followers will be asked to follow @ada@mb.demo");
      await type("1", /Now open demo\.social's move page, enter @ada@mb\.demo/);
      const beforeMove = demo.stdout().length;
      await type("!move", /the account now points to @ada@mb\.demo/);
      // The bot would see the Move by itself within a minute; she says so anyway (the longest path).
      await type("1", /./);
      await demo.waitFor(/✅ @ada@demo\.social has moved to @ada@mb\.demo\./, 30_000, beforeMove);
      console.info(`messages sent on the terminal, pasted token (${sent.length}):`, sent);
      expect(
        sent.map((m) => (m === oldToken ? "<token>" : m === appToken ? "<app token>" : m)),
      ).toEqual([
        "/start",
        url,
        "1", // Paste a token instead
        "<token>",
        "<app token>",
        "1", // Follow them, then move
        "1", // Both done
        "1", // I understand — move
        "1", // I've moved
      ]);
      expect(sent.length).toBeLessThanOrEqual(9);
      const done = await demo.waitFor(
        /Your move is finished: 570 of 600 followers moved \(95%\)\.\n30 stayed behind:\n• quiet\.demo: 30 — server not answering/,
        100_000,
        beforeMove,
      );
      expect(done[0]).toBeTruthy();
      await demo.waitFor(/📎 stayed\.csv saved to/, 10_000, beforeMove);
      demo.child.stdin.end();
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.child.kill("SIGKILL");
    }
  });
});
