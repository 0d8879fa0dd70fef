/**
 * The whole journey from a strict old server: demo.social in secure mode (actors only to
 * signed requests) with a closed API (no anonymous reads), to a micro.blog account whose
 * Fediverse handle is on its own domain. The bot signs its reads as its own instance actor
 * (served on its public address), sees the Move, counts the followers from the signed
 * followers collection, and finishes with a message that claims only what it counted.
 */
import { describe, expect, it } from "vitest";
import { startProcess } from "./process.js";

describe("npm run demo -- --secure: a strict old server, a custom-domain micro.blog handle", () => {
  it("moves @ada@demo.social to @ada@ada.demo and says truthfully how many followers moved", {
    timeout: 150_000,
  }, async () => {
    const demo = startProcess("src/demo.ts", { LOG_LEVEL: "warn" }, ["--secure"]);
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
      // Nothing anonymous gets through: the stand-in really is closed.
      const closed = await fetch(`${url}/api/v1/accounts/lookup?acct=ada`);
      expect(closed.status).toBe(401);
      const unsigned = await fetch(`${url}/users/ada`, {
        headers: { accept: "application/activity+json" },
      });
      expect(unsigned.status).toBe(401);
      await demo.waitFor(/Which Mastodon server is your account on\?[^\n]*\n\s+\[1\] What changes/);
      await type(url!, /\[1\] Paste a token instead/);
      await type("1", /I need an access token/);
      await type(oldToken!, /Saved: 240 follows, 600 followers/);
      await demo.waitFor(
        /Moving to micro\.blog\?[\s\S]*\[1\] Another server instead/,
        30_000,
        mark,
      );
      await type(appToken!, /I'll follow your 240 accounts on @ada@ada\.demo\./);
      await demo.waitFor(/\[1\] Follow them, then move/, 10_000, mark);
      await type("1", /Done: 234 followed, 6 not found\./, 60_000);
      await demo.waitFor(
        /Two things on micro\.blog before the move:[\s\S]*\[1\] Both done/,
        10_000,
        mark,
      );
      await type("!alias", /@ada@demo\.social added as an alias/);
      const checks = await type(
        "1",
        /✅ @ada@ada\.demo lists @ada@demo\.social as an alias[\s\S]*Before the move — all clear:[\s\S]*\[1\] I understand — move/,
      );
      // Seen through the signed actor: nothing left unchecked.
      expect(checks[0]).toContain("✅ @ada@demo.social hasn't moved before.");
      expect(checks[0]).not.toContain("I couldn't check");
      expect(checks[0]).toContain("600 followers will be asked to follow @ada@ada.demo");
      await type(
        "1",
        /Now open demo\.social's move page, enter @ada@ada\.demo and your password, and submit\. I'll see the move here by myself/,
      );
      // Nobody says "I've moved": the poll begun at the confirmation sees it, signing its reads.
      await type("!move", /the account now points to @ada@ada\.demo/);
      await demo.waitFor(/✅ @ada@demo\.social has moved to @ada@ada\.demo\./, 60_000, mark);
      const done = await demo.waitFor(
        /Your move is finished: 570 of 600 followers moved \(95%\)\.\n30 stayed behind; your old server doesn't show who they are\./,
        100_000,
        mark,
      );
      expect(done[0]).toBeTruthy();
      demo.child.stdin.end();
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.child.kill("SIGKILL");
    }
  });
});
