/**
 * The scored sets jobs are listed in, on every backend: members added and moved
 * one at a time, read back by score, two stores on one backend (two processes)
 * adding at once without losing each other's members.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";
import { backendUrls } from "../helpers/backends.js";
import { closedAfterEach } from "../helpers/closing.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-scored-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const opened = closedAfterEach<Store>();

for (const [name, url] of Object.entries(backendUrls(dir))) {
  describe(name, () => {
    it("lists members by score up to a bound, moves one on a second put, removes one", async () => {
      const store = opened(await openStore(url()));
      const sets = store.scored("test-sets");
      const key = randomBytes(4).toString("hex");
      await sets.put(key, "c", 30);
      await sets.put(key, "a", 10);
      await sets.put(key, "b", 20);
      expect(await sets.upTo(key, 20)).toEqual(["a", "b"]);
      expect(await sets.scoresUpTo(key, 20)).toEqual([
        { member: "a", score: 10 },
        { member: "b", score: 20 },
      ]);
      await sets.put(key, "a", 40);
      expect(await sets.upTo(key, Number.POSITIVE_INFINITY)).toEqual(["b", "c", "a"]);
      await sets.remove(key, "c");
      expect(await sets.upTo(key, Number.POSITIVE_INFINITY)).toEqual(["b", "a"]);
      // Another name or key is another set.
      expect(await store.scored("test-other").upTo(key, Number.POSITIVE_INFINITY)).toEqual([]);
      expect(await sets.upTo(`${key}x`, Number.POSITIVE_INFINITY)).toEqual([]);
      await sets.drop(key);
      expect(await sets.upTo(key, Number.POSITIVE_INFINITY)).toEqual([]);
    });

    it("two stores on one backend adding at once lose no member", async () => {
      const u = url();
      const one = opened(await openStore(u));
      const two = opened(await openStore(u));
      const key = randomBytes(4).toString("hex");
      const ids = Array.from({ length: 40 }, (_, i) => `m${i}`);
      await Promise.all(
        ids.map((id, i) => (i % 2 ? one : two).scored("test-sets").put(key, id, i)),
      );
      expect(await one.scored("test-sets").upTo(key, Number.POSITIVE_INFINITY)).toEqual(ids);
      await one.scored("test-sets").drop(key);
    });
  });
}
