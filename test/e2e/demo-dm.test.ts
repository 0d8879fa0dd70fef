/**
 * `npm run demo -- --dm`: the journey by direct message, as a newcomer plays it — Ada's DMs
 * typed in the terminal, the bot's DMs printed — from hello to the import's report, with the
 * sign-in link approved and micro.blog's token given on the bot's one-time page.
 */
import { describe, expect, it } from "vitest";
import { startProcess } from "./process.js";

describe("npm run demo -- --dm", () => {
  it("walks @ada@demo.social by DM to the import's report on @ada@mb.demo", {
    timeout: 120_000,
  }, async () => {
    const demo = startProcess("src/demo.ts", { LOG_LEVEL: "warn" }, ["--dm"]);
    let mark = 0;
    const type = async (line: string, expect: RegExp, timeoutMs = 30_000) => {
      mark = demo.stdout().length;
      demo.child.stdin.write(`${line}\n`);
      return demo.waitFor(expect, timeoutMs, mark);
    };
    try {
      await demo.waitFor(/DM demo: you are @ada@demo\.social/);
      await type("hello", /✉ @fedimove: Hi! I'll move your Mastodon account[\s\S]*1 · Let's go/);
      await type("1", /Which Mastodon server is your account on\?/);
      await type("demo.social", /Tap to let me read your account/);
      await type("!signin", /Saved: 240 follows, 600 followers/);
      const saved = await demo.waitFor(
        /📎 following_accounts\.csv[^\n]*\n(http\S+\/d\/\S+)/,
        10_000,
        mark,
      );
      // The file's one-time page: opening it shows a button; the download uses it up.
      expect((await fetch(saved[1]!)).status).toBe(200);
      const file = await fetch(saved[1]!, { method: "POST" });
      expect(await file.text()).toMatch(
        /^Account address,Show boosts,Notify on new posts,Languages\n/,
      );
      expect((await fetch(saved[1]!, { method: "POST" })).status).toBe(410);
      await demo.waitFor(/1 · micro\.blog\n2 · Another server/, 10_000, mark);
      await type("micro.blog", /Give me your micro\.blog token: http\S+\/f\//);
      await type("!token", /I'll follow your 240 accounts on @ada@mb\.demo\./);
      await type("1", /Done: 234 followed, 6 not found\./, 60_000);
      demo.child.stdin.end();
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.child.kill("SIGKILL");
    }
  });
});
