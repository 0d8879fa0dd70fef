/**
 * The whole journey, as a person walks it in `npm run demo`: from hello to the
 * finished message, through the real process, the terminal channel and both
 * stand-ins (demo.social and mb.demo), with the demo playing the web pages.
 */
import { describe, expect, it } from "vitest";
import { startProcess } from "./process.js";

describe("npm run demo: the whole journey", () => {
  it("moves @ada@demo.social to @ada@mb.demo and reports who stayed", {
    timeout: 150_000,
  }, async () => {
    const demo = startProcess("src/demo.ts", { LOG_LEVEL: "warn" });
    let mark = 0;
    const type = async (line: string, expect: RegExp, timeoutMs = 30_000) => {
      mark = demo.stdout().length;
      demo.child.stdin.write(`${line}\n`);
      return demo.waitFor(expect, timeoutMs, mark);
    };
    try {
      const [, url] = await demo.waitFor(/Its address:\s+(\S+)/);
      const [, oldToken] = await demo.waitFor(/Its access token:\s+(\S+)/);
      const [, appToken] = await demo.waitFor(/micro\.blog app token:\s+(\S+)/);
      await demo.waitFor(/\[1\] Let's go/);
      await type("1", /Which Mastodon server/);
      await type(url!, /\[1\] Paste a token instead/);
      await type("1", /I need an access token/);
      await type(oldToken!, /Saved: 240 follows, 600 followers/);
      await demo.waitFor(/\[1\] micro\.blog\s+\[2\] Another server/, 30_000, mark);
      await type("1", /Now your micro\.blog account/);
      const preview = await type(appToken!, /I'll follow your (\d+) accounts on @ada@mb\.demo\./);
      expect(preview[1]).toBe("240");
      await type("1", /Done: 234 followed, 6 not found\./, 60_000);
      await demo.waitFor(/📎 not-followed\.csv saved to/, 10_000, mark);
      await type(
        "1",
        /On micro\.blog, open Account → View Fediverse Details → Aliases → Add Alias/,
      );
      await type("1", /Not yet: @ada@mb\.demo doesn't list @ada@demo\.social as an alias yet/);
      await type("!alias", /@ada@demo\.social added as an alias/);
      await type("1", /✅ @ada@mb\.demo lists @ada@demo\.social as an alias/);
      const checks = await type(
        "1",
        /Before the move — all clear:[\s\S]*\[1\] I understand — move/,
      );
      expect(checks[0]).toContain(
        "ℹ️ Whether each follower comes along depends on their own server",
      );
      expect(checks[0]).toContain("600 followers will be asked to follow @ada@mb.demo");
      await type("1", /Now open demo\.social's move page, enter @ada@mb\.demo/);
      await type("!move", /the account now points to @ada@mb\.demo/);
      await type("1", /✅ @ada@demo\.social has moved to @ada@mb\.demo\./);
      const done = await demo.waitFor(
        /Your move is finished: 570 of 600 followers moved \(95%\)\.\n30 stayed behind:\n• quiet\.demo: 30 — server not answering/,
        100_000,
        mark,
      );
      expect(done[0]).toBeTruthy();
      await demo.waitFor(/📎 stayed\.csv saved to/, 10_000, mark);
      demo.child.stdin.end();
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.child.kill("SIGKILL");
    }
  });
});
