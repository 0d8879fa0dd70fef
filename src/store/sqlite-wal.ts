/**
 * Turning a file's journal into WAL needs the file to itself, and SQLite does
 * not run the busy handler for it: `PRAGMA journal_mode = WAL` fails at once
 * with SQLITE_BUSY when another process holds any lock on a fresh file (two
 * processes starting together on a new database; CI saw it). WAL is a property
 * of the file, so once any process has switched it there is nothing left to do:
 * read the mode first, and retry the switch until one of us succeeds or the
 * budget runs out.
 * See https://sqlite.org/pragma.html#pragma_journal_mode and wal.html §"Persistence of WAL mode".
 */
import type Database from "better-sqlite3";
import { isSqliteBusy, StoreUnavailableError } from "./errors.js";

const PAUSE_MS = 10;

export function enterWal(db: Database.Database, budgetMs: number): void {
  const until = Date.now() + budgetMs;
  for (let pause = PAUSE_MS; ; pause = Math.min(pause * 2, 200)) {
    try {
      if (journalMode(db) === "wal") return;
      if (String(db.pragma("journal_mode = WAL", { simple: true })).toLowerCase() === "wal") return;
    } catch (error) {
      if (!isSqliteBusy(error)) throw error;
    }
    if (Date.now() >= until) {
      throw new StoreUnavailableError(
        "sqlite",
        "another process kept the new database file locked",
      );
    }
    sleepSync(Math.min(pause, Math.max(1, until - Date.now())));
  }
}

function journalMode(db: Database.Database): string {
  return String(db.pragma("journal_mode", { simple: true })).toLowerCase();
}

/** Opening is synchronous (better-sqlite3), so the wait between tries is too; it lasts milliseconds, once per start. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
