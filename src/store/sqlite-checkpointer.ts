/**
 * SQLite's WAL is folded back into the database by a checkpoint, which by
 * default runs inside whichever write crosses 1,000 pages: that write, and the
 * user whose message it was, waits 3–15 ms (bench/engine.ts saw it set the p99).
 * Here the main connection never checkpoints; a worker thread with its own
 * connection does it every second in PASSIVE mode, which never blocks writers.
 */
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require("better-sqlite3");
const db = new Database(workerData.path, { timeout: 5000 });
const timer = setInterval(() => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
}, workerData.everyMs);
parentPort.on("message", () => { clearInterval(timer); db.close(); parentPort.postMessage("closed"); });
`;

export interface Checkpointer {
  close(): Promise<void>;
}

export function startCheckpointer(
  db: Database.Database,
  path: string,
  everyMs = 1000,
): Checkpointer {
  db.pragma("wal_autocheckpoint = 0");
  const worker = new Worker(WORKER, { eval: true, workerData: { path, everyMs } });
  worker.unref();
  return {
    async close() {
      const closed = new Promise<void>((resolve) => {
        worker.once("message", () => resolve());
        worker.once("exit", () => resolve());
      });
      worker.postMessage("close");
      await closed;
      await worker.terminate();
      // Fold the rest in now, so the file is whole without its -wal beside it.
      db.pragma("wal_checkpoint(TRUNCATE)");
    },
  };
}
