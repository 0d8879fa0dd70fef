/**
 * Leases in PostgreSQL. Taking one is a single `INSERT … ON CONFLICT DO UPDATE …
 * WHERE expired`: PostgreSQL locks the conflicting row and re-checks the condition,
 * so two processes can never both get a row back. Times come from the server's
 * clock, so processes on different hosts agree on when a lease ends. Generations
 * come from a sequence, so they only ever grow, whatever is released or deleted.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { leaseMs } from "./locks-memory.js";
import type { Lease, Locks } from "./store.js";

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS store_locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires TIMESTAMPTZ NOT NULL)",
  // Rows of a table made before fences existed get 0, which is never handed out.
  "ALTER TABLE store_locks ADD COLUMN IF NOT EXISTS fence BIGINT NOT NULL DEFAULT 0",
  "CREATE SEQUENCE IF NOT EXISTS store_lock_generation",
];

const GRANT = `INSERT INTO store_locks AS l (name, token, expires, fence)
  VALUES ($1, $2, clock_timestamp() + $3::float8 * interval '1 millisecond', nextval('store_lock_generation'))
  ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires = excluded.expires, fence = excluded.fence`;

const TAKE = `${GRANT} WHERE l.expires <= clock_timestamp() RETURNING fence`;
const SEIZE = `${GRANT} RETURNING fence`;

const LENGTHEN = `UPDATE store_locks SET expires = clock_timestamp() + $3::float8 * interval '1 millisecond'
  WHERE name = $1 AND token = $2 AND expires > clock_timestamp()`;

const DROP = "DELETE FROM store_locks WHERE name = $1 AND token = $2";

/**
 * The condition a fenced write puts in its own statement (see open-store.ts).
 * FOR SHARE: a takeover that commits first makes PostgreSQL re-check the row and
 * refuse the write; one that comes second waits for the write to commit.
 */
export const PG_FENCE_HOLDS = (lock: string, generation: string) =>
  `EXISTS (SELECT 1 FROM store_locks WHERE name = ${lock} AND fence = ${generation} FOR SHARE)`;

/**
 * SQLSTATEs of a `CREATE … IF NOT EXISTS` or `ADD COLUMN IF NOT EXISTS` that raced
 * another process doing the same (42710: "type … already exists", the table's row
 * type). Only a database shared with something that doesn't take our lock can
 * still race; see createIfMissing.
 */
const RACED_DDL = new Set(["23505", "42P07", "42701", "42710"]);

/**
 * One key for every fedimove process's schema changes. `IF NOT EXISTS` does not
 * make two concurrent CREATEs safe in PostgreSQL: the second can fail on the
 * catalog's unique index. So processes starting together take turns.
 */
const SCHEMA_LOCK = 0x6665_646d; // "fedm"

/**
 * Runs idempotent DDL in one transaction, holding an advisory lock so processes
 * starting at once on an empty database take turns (the wait is bounded by the
 * pool's statement_timeout), and tolerating a race with anyone who doesn't.
 */
export async function createIfMissing(pool: pg.Pool, ...ddl: string[]): Promise<void> {
  const client = await pool.connect();
  let broken: unknown;
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
    for (const statement of ddl) {
      await client.query("SAVEPOINT ddl");
      try {
        await client.query(statement);
      } catch (error) {
        const code = error instanceof Error && "code" in error ? error.code : undefined;
        if (typeof code !== "string" || !RACED_DDL.has(code)) throw error;
        await client.query("ROLLBACK TO SAVEPOINT ddl");
      }
    }
    await client.query("COMMIT");
  } catch (error) {
    broken = error;
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    // A connection whose ROLLBACK may not have gone through is not handed out again.
    client.release(broken instanceof Error ? broken : undefined);
  }
}

export class PostgresLocks implements Locks {
  private constructor(private readonly pool: pg.Pool) {}

  /** Creates the table if missing; the pool is shared with Keyv and ended by the store. */
  static async open(pool: pg.Pool): Promise<PostgresLocks> {
    await createIfMissing(pool, ...SCHEMA);
    return new PostgresLocks(pool);
  }

  async acquire(name: string, ttlMs: number): Promise<Lease | null> {
    return this.#grant(TAKE, name, leaseMs(ttlMs));
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const ms = leaseMs(ttlMs);
    const result = await this.pool.query(LENGTHEN, [name, token, ms]);
    return result.rowCount === 1;
  }

  async release(name: string, token: string): Promise<void> {
    await this.pool.query(DROP, [name, token]);
  }

  async seize(name: string, ttlMs: number): Promise<Lease> {
    const lease = await this.#grant(SEIZE, name, leaseMs(ttlMs));
    if (!lease)
      throw new Error(`PostgreSQL granted no lease on "${name}" to an unconditional upsert`);
    return lease;
  }

  async #grant(sql: string, name: string, ms: number): Promise<Lease | null> {
    const token = randomUUID();
    const result = await this.pool.query<{ fence: string }>(sql, [name, token, ms]);
    const fence = result.rows[0]?.fence;
    // BIGINT comes back as a string; generations stay far below 2^53.
    return fence === undefined ? null : { lock: name, token, generation: Number(fence) };
  }
}
