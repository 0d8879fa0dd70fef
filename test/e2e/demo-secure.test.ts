/**
 * The whole journey from a strict old server: demo.social in secure mode (actors only to
 * signed requests) with a closed API (no anonymous reads), to a micro.blog account whose
 * Fediverse handle is on its own domain. The bot signs its reads as its own instance actor
 * (served on its public address), sees the Move, counts the followers from the signed
 * followers collection, and finishes with a message that claims only what it counted.
 */
import { describe, expect, it } from "vitest";
import { demoCredentials, signInByToken, startDemo } from "./demo.js";

describe("npm run demo -- --secure: a strict old server, a custom-domain micro.blog handle", () => {
  it("moves @ada@demo.social to @ada@ada.demo and says truthfully how many followers moved", {
    timeout: 150_000,
  }, async () => {
    const d = startDemo(["--secure"]);
    const { proc: demo, type } = d;
    try {
      const { url, oldToken, appToken } = await demoCredentials(d);
      // Nothing anonymous gets through: the stand-in really is closed.
      const closed = await fetch(`${url}/api/v1/accounts/lookup?acct=ada`);
      expect(closed.status).toBe(401);
      const unsigned = await fetch(`${url}/users/ada`, {
        headers: { accept: "application/activity+json" },
      });
      expect(unsigned.status).toBe(401);
      await signInByToken(d, { url, oldToken });
      await type(appToken, /I'll follow your 240 accounts on @ada@ada\.demo\./);
      await d.next(/\[1\] Follow them, then move/, 10_000);
      await type("1", /Done: 234 followed, 6 not found\./, 60_000);
      await d.next(/Two things on micro\.blog before the move:[\s\S]*\[1\] Both done/, 10_000);
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
      await d.next(/✅ @ada@demo\.social has moved to @ada@ada\.demo\./, 60_000);
      const done = await d.next(
        /Your move is finished: 570 of 600 followers moved \(95%\)\.\n30 stayed behind; your old server doesn't show who they are\./,
        100_000,
      );
      expect(done[0]).toBeTruthy();
      demo.child.stdin.end();
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.child.kill("SIGKILL");
    }
  });
});
