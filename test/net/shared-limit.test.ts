import { describe, expect, it } from "vitest";
import { startMicroblogSandbox } from "../../sandbox/microblog.js";
import { startProcess } from "../e2e/process.js";

const REDIS = "redis://127.0.0.1:6379";

describe("micro.blog's limit shared through Redis", () => {
  it("two processes behind one address together stay within it: no 403, every follow made", async () => {
    // Scaled: 20 requests a 2 s window; each process alone would send 20 a window. The slack,
    // a quarter of the window, covers a send held up by a busy machine (tests run in parallel
    // on two cores; at 100 ms of a 1 s window, a stall once put 21 arrivals in one window).
    const limit = 20;
    const windowMs = 2000;
    const slackMs = 500;
    const mb = await startMicroblogSandbox({ rateLimit: { limit, windowMs } });
    try {
      mb.setLatency(15);
      const token = mb.addUser("ada");
      const handles = (p: string) =>
        Array.from({ length: 50 }, (_, k) => {
          const h = `${p}${k}@far.example`;
          mb.addRemote(h, { exists: true });
          return h;
        });
      const procs = ["a", "b"].map((p) =>
        startProcess("test/net/shared-limit-worker.ts", {
          STORE_URL: REDIS,
          MB_URL: mb.url,
          LIMIT: String(limit),
          WINDOW_MS: String(windowMs),
          SLACK_MS: String(slackMs),
          TOKEN: token,
          HANDLES: JSON.stringify(handles(p)),
        }),
      );
      const results = await Promise.all(
        procs.map(async (p) => JSON.parse((await p.waitFor(/^\{.*\}$/m, 60_000))[0]!)),
      );
      for (const r of results) expect(new Set(r.outcomes)).toEqual(new Set(["followed"]));
      expect(mb.requests.filter((r) => r.status === 403)).toEqual([]);
      expect(mb.followingOf("ada")).toHaveLength(100);
      // Both took part: each process's requests are spread over the same windows.
      const windows = new Map<number, number>();
      for (const r of mb.requests) {
        const w = Math.floor(r.time / windowMs);
        windows.set(w, (windows.get(w) ?? 0) + 1);
      }
      expect(Math.max(...windows.values())).toBeLessThanOrEqual(limit);
    } finally {
      await mb.close();
    }
  }, 90_000);
});
