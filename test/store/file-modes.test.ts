/**
 * What the bot keeps on disk is this user's alone, whatever the umask it was
 * started with: the SQLite database (with its -wal and -shm) 0600 in a 0700
 * folder, and the sealing secret likewise. Run under umask 000, where anything
 * left to defaults comes out readable (and writable) by everyone, and under umask
 * 277, where a folder asked for as 0700 comes out 0500 and nothing can be put in it.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import { loadOrCreateSecretFile } from "../../src/store/seal.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-modes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

for (const mask of [0o000, 0o277]) {
  describe(`file modes under umask ${mask.toString(8).padStart(3, "0")}`, () => {
    let umask = 0;
    beforeEach(() => {
      umask = process.umask(mask);
    });
    afterEach(() => {
      process.umask(umask);
    });

    it("the SQLite database and its folders are 0600 and 0700", async () => {
      const data = join(dir, `data-${mask}`);
      const path = join(data, "deep", "fedimove.sqlite");
      const store = await openStore(`sqlite:${path}`);
      try {
        await store.namespace("users").set("tg:1", { any: "thing" });
        expect({
          data: modeOf(data),
          deep: modeOf(join(data, "deep")),
          db: modeOf(path),
          wal: modeOf(`${path}-wal`),
          shm: modeOf(`${path}-shm`),
        }).toEqual({ data: "700", deep: "700", db: "600", wal: "600", shm: "600" });
      } finally {
        await store.close();
      }
    });

    it("the sealing secret and its folder are 0600 and 0700", () => {
      const folder = join(dir, `secret-${mask}`);
      const path = join(folder, "secret.key");
      const secret = loadOrCreateSecretFile(path);
      expect(loadOrCreateSecretFile(path)).toBe(secret);
      expect({ folder: modeOf(folder), key: modeOf(path) }).toEqual({
        folder: "700",
        key: "600",
      });
    });
  });
}
