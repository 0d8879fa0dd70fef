import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { startProcess } from "./process.js";

describe("npm run demo: the terminal bot against the Mastodon stand-in", () => {
  it("walks from hello to following_accounts.csv on disk", async () => {
    const demo = startProcess("src/demo.ts", { LOG_LEVEL: "warn" });
    try {
      await demo.waitFor(/the old account is @ada@demo\.social/);
      const [, token] = await demo.waitFor(/Its access token:\s+(\S+)/);
      await demo.waitFor(
        /Which Mastodon server is your account on\?[^\n]*\n\s+\[1\] What changes exactly\?/,
      );
      // The name the demo prints, not the stand-in's address: every request goes where it is played.
      demo.child.stdin.write("demo.social\n");
      await demo.waitFor(/\[1\] Paste a token instead\s+\[2\] Upload a file instead/);
      demo.child.stdin.write("1\n");
      await demo.waitFor(/I need an access token/);
      const mark = demo.stdout().length;
      demo.child.stdin.write(`${token}\n`);
      await demo.waitFor(/Signed in as @ada@demo\.social\./, 20_000, mark);
      const [, file] = await demo.waitFor(
        /📎 following_accounts\.csv saved to (\S+)/,
        20_000,
        mark,
      );
      const csv = readFileSync(file!, "utf8");
      await demo.waitFor(/📎 demo\.social-ada-\d{4}-\d\d-\d\d\.zip saved to/, 20_000, mark);
      expect(csv.split("\n")[0]).toBe("Account address,Show boosts,Notify on new posts,Languages");
      expect(csv.trimEnd().split("\n")).toHaveLength(241);
      // The token never comes back in what the bot prints after it was sent.
      expect(demo.stdout().slice(mark)).not.toContain(token);
      demo.child.stdin.end();
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.child.kill("SIGKILL");
    }
  });
});
