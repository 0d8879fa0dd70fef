/**
 * Leases in PostgreSQL. Taking one is a single `INSERT … ON CONFLICT DO UPDATE …
 * WHERE expired`: PostgreSQL locks the conflicting row and re-checks the condition,
 * so two processes can never both get a row back. Times come from the server's
 * clock, so processes on different hosts agree on when a lease ends.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { leaseMs } from "./locks-memory.js";
import type { Locks } from "./store.js";

const SCHEMA =
  "CREATE TABLE IF NOT EXISTS store_locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires TIMESTAMPTZ NOT NULL)";

const TAKE = `INSERT INTO store_locks AS l (name, token, expires)
  VALUES ($1, $2, clock_timestamp() + $3::float8 * interval '1 millisecond')
  ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires = excluded.expires
  WHERE l.expires <= clock_timestamp()
  RETURNING token`;

const LENGTHEN = `UPDATE store_locks SET expires = clock_timestamp() + $3::float8 * interval '1 millisecond'
  WHERE name = $1 AND token = $2 AND expires > clock_timestamp()`;

const DROP = "DELETE FROM store_locks WHERE name = $1 AND token = $2";

/** SQLSTATEs of a `CREATE … IF NOT EXISTS` that raced another process doing the same. */
const RACED_DDL = new Set(["23505", "42P07"]);

/** Runs idempotent DDL, tolerating another process creating the same thing at once. */
export async function createIfMissing(pool: pg.Pool, ddl: string): Promise<void> {
  try {
    await pool.query(ddl);
  } catch (error) {
    const code = error instanceof Error && "code" in error ? error.code : undefined;
    if (typeof code !== "string" || !RACED_DDL.has(code)) throw error;
  }
}

export class PostgresLocks implements Locks {
  private constructor(private readonly pool: pg.Pool) {}

  /** Creates the table if missing; the pool is shared with Keyv and ended by the store. */
  static async open(pool: pg.Pool): Promise<PostgresLocks> {
    await createIfMissing(pool, SCHEMA);
    return new PostgresLocks(pool);
  }

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const ms = leaseMs(ttlMs);
    const token = randomUUID();
    const result = await this.pool.query(TAKE, [name, token, ms]);
    return result.rowCount === 1 ? token : null;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const ms = leaseMs(ttlMs);
    const result = await this.pool.query(LENGTHEN, [name, token, ms]);
    return result.rowCount === 1;
  }

  async release(name: string, token: string): Promise<void> {
    await this.pool.query(DROP, [name, token]);
  }
}
