/**
 * Two processes starting on a new database at once: one holds the file while
 * the other asks for WAL. SQLite refuses that at once, whatever the busy
 * timeout; opening must wait its turn instead of failing the start.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import { enterWal } from "../../src/store/sqlite-wal.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-wal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Another process's connection part-way through a write (its schema, say), in a
 * thread so this one can block: holds the file's write lock for `ms`.
 */
const HOLDER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require("better-sqlite3");
const db = new Database(workerData.path);
db.exec("BEGIN IMMEDIATE; INSERT INTO t VALUES (1)");
parentPort.postMessage("held");
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.ms);
db.exec("COMMIT");
db.close();
`;

/** Resolves once the lock is held, with a promise of the holder's end (wrapped, so awaiting this doesn't wait for that). */
async function holdFor(path: string, ms: number): Promise<{ done: Promise<unknown> }> {
  const worker = new Worker(HOLDER, { eval: true, workerData: { path, ms } });
  const done = once(worker, "exit");
  await once(worker, "message");
  return { done };
}

function freshFile(name: string): string {
  const path = join(dir, name);
  const db = new Database(path);
  db.exec("CREATE TABLE t (x)");
  db.close();
  return path;
}

describe("a new SQLite file opened by two processes at once", () => {
  it("SQLite itself refuses the switch to WAL at once, busy timeout or not", async () => {
    const path = freshFile("plain.sqlite");
    const holder = await holdFor(path, 300);
    const db = new Database(path, { timeout: 5_000 });
    try {
      expect(() => db.pragma("journal_mode = WAL")).toThrow(/locked/);
    } finally {
      db.close();
      await holder.done;
    }
  });

  it("the store waits for the other process and opens in WAL", async () => {
    const path = freshFile("store.sqlite");
    const holder = await holdFor(path, 300);
    const store = await openStore(`sqlite:${path}`);
    try {
      const kv = store.namespace("n");
      await kv.set("k", 1);
      expect(await kv.get("k")).toBe(1);
      const db = new Database(path, { readonly: true });
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      db.close();
    } finally {
      await store.close();
      await holder.done;
    }
  });

  it("gives up after its budget with a clear error, not a hang", async () => {
    const path = freshFile("held.sqlite");
    const holder = await holdFor(path, 1_000);
    const db = new Database(path, { timeout: 50 });
    try {
      expect(() => enterWal(db, 100)).toThrow(
        "store (sqlite) unavailable: another process kept the new database file locked",
      );
    } finally {
      db.close();
      await holder.done;
    }
  });
});
