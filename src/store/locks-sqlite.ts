/**
 * Leases in the SQLite file, shared by every process that opens it. Taking a lease
 * runs in an IMMEDIATE transaction (SQLite's write lock first, then the check), so
 * two processes never both take one; busy_timeout makes a second process wait its
 * turn. Generations come from one counter row, so they only ever grow.
 */
import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import { leaseMs } from "./locks-memory.js";
import type { Lease, Locks } from "./store.js";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS store_locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS store_lock_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
  INSERT OR IGNORE INTO store_lock_generation (id, n) VALUES (1, 0);
`;

/** The fence column, added to a table made before fences existed (old rows get 0, never handed out). */
function addFenceColumn(db: Database.Database): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('store_locks')").pluck().all();
  if (!columns.includes("fence")) {
    db.exec("ALTER TABLE store_locks ADD COLUMN fence INTEGER NOT NULL DEFAULT 0");
  }
}

/** The condition a fenced write puts in its own statement (see sqlite-keyv-adapter.ts). */
export const SQLITE_FENCE_HOLDS =
  "EXISTS (SELECT 1 FROM store_locks WHERE name = @lock AND fence = @generation)";

export class SqliteLocks implements Locks {
  readonly #acquire: (name: string, ms: number) => Lease | null;
  readonly #seize: (name: string, ms: number) => Lease;
  readonly #lengthen;
  readonly #drop;

  /** The database is shared with the key-value adapter; the caller closes it. */
  constructor(db: Database.Database) {
    db.transaction(() => {
      db.exec(SCHEMA);
      addFenceColumn(db);
    }).immediate();
    const live = db.prepare("SELECT 1 FROM store_locks WHERE name = ? AND expires > ?").pluck();
    const next = db
      .prepare("UPDATE store_lock_generation SET n = n + 1 WHERE id = 1 RETURNING n")
      .pluck();
    const put = db.prepare(
      "INSERT INTO store_locks (name, token, expires, fence) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT(name) DO UPDATE SET token = excluded.token, expires = excluded.expires, fence = excluded.fence",
    );
    const grant = (name: string, ms: number): Lease => {
      const generation = Number(next.get());
      const token = randomUUID();
      put.run(name, token, Date.now() + ms, generation);
      return { lock: name, token, generation };
    };
    const acquire = db.transaction((name: string, ms: number) =>
      live.get(name, Date.now()) === undefined ? grant(name, ms) : null,
    );
    const seize = db.transaction(grant);
    // IMMEDIATE: the write lock is taken before the check, not upgraded to after it.
    this.#acquire = (name, ms) => acquire.immediate(name, ms);
    this.#seize = (name, ms) => seize.immediate(name, ms);
    this.#lengthen = db.prepare(
      "UPDATE store_locks SET expires = ? WHERE name = ? AND token = ? AND expires > ?",
    );
    this.#drop = db.prepare("DELETE FROM store_locks WHERE name = ? AND token = ?");
  }

  async acquire(name: string, ttlMs: number): Promise<Lease | null> {
    return this.#acquire(name, leaseMs(ttlMs));
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const ms = leaseMs(ttlMs);
    const now = Date.now();
    return this.#lengthen.run(now + ms, name, token, now).changes === 1;
  }

  async release(name: string, token: string): Promise<void> {
    this.#drop.run(name, token);
  }

  async seize(name: string, ttlMs: number): Promise<Lease> {
    return this.#seize(name, leaseMs(ttlMs));
  }
}
