/**
 * Leases in the SQLite file, shared by every process that opens it. Taking a lease
 * is one statement (an upsert that only overwrites an expired row), so SQLite's
 * write lock makes it atomic; busy_timeout makes a second process wait its turn.
 */
import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import { leaseMs } from "./locks-memory.js";
import type { Locks } from "./store.js";

const SCHEMA =
  "CREATE TABLE IF NOT EXISTS store_locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires INTEGER NOT NULL)";

export class SqliteLocks implements Locks {
  readonly #take;
  readonly #lengthen;
  readonly #drop;

  /** The database is shared with the key-value adapter; the caller closes it. */
  constructor(db: Database.Database) {
    db.exec(SCHEMA);
    this.#take = db.prepare(
      "INSERT INTO store_locks (name, token, expires) VALUES (?, ?, ?) " +
        "ON CONFLICT(name) DO UPDATE SET token = excluded.token, expires = excluded.expires " +
        "WHERE store_locks.expires <= ?",
    );
    this.#lengthen = db.prepare(
      "UPDATE store_locks SET expires = ? WHERE name = ? AND token = ? AND expires > ?",
    );
    this.#drop = db.prepare("DELETE FROM store_locks WHERE name = ? AND token = ?");
  }

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const ms = leaseMs(ttlMs);
    const token = randomUUID();
    const now = Date.now();
    // No change means the row exists and has not expired: someone else holds it.
    return this.#take.run(name, token, now + ms, now).changes === 1 ? token : null;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const ms = leaseMs(ttlMs);
    const now = Date.now();
    return this.#lengthen.run(now + ms, name, token, now).changes === 1;
  }

  async release(name: string, token: string): Promise<void> {
    this.#drop.run(name, token);
  }
}
