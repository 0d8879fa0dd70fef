/**
 * A Keyv storage adapter over better-sqlite3. We use it instead of @keyv/sqlite,
 * which depends on the archived `sqlite3` driver; better-sqlite3's synchronous
 * statements also let the lock be one atomic statement (see locks-sqlite.ts).
 *
 * The adapter keeps namespaces apart itself ("<namespace>:<key>"), like
 * @keyv/redis does, so Keyv runs with useKeyPrefix off. Keyv hands us the value
 * already serialised as `{"value":…,"expires":…}` and checks `expires` itself on
 * read; we keep our own `expires` column as well so expired rows are invisible to
 * every reader at once and can be swept.
 */
import { EventEmitter } from "node:events";
import type Database from "better-sqlite3";
import { SQLITE_FENCE_HOLDS } from "./locks-sqlite.js";
import type { Fence } from "./store.js";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS keyv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER);
  CREATE INDEX IF NOT EXISTS keyv_expires ON keyv(expires) WHERE expires IS NOT NULL;
`;

/** How often one process deletes rows that expired without being read again. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Keyv 5.6 accepts any object with get/set/delete/clear. We don't claim its
 * `KeyvStoreAdapter` type: that says get() returns the deserialised value, while
 * adapters (@keyv/redis too) really return the string Keyv serialised.
 */
export class SqliteKeyvAdapter extends EventEmitter {
  /** Keyv reads `opts` to decide on iteration; we offer none. */
  readonly opts = { dialect: "sqlite" };
  /** Set by Keyv from its own `namespace` option. */
  namespace: string | undefined;

  readonly #now = Date.now;
  #lastSweep = 0;
  readonly #select;
  readonly #upsert;
  readonly #remove;
  readonly #take;
  readonly #setFenced;
  readonly #removeRange;
  readonly #removeAll;
  readonly #sweep;

  /** The database is shared by every namespace and the locks; the caller closes it. */
  constructor(db: Database.Database) {
    super();
    db.exec(SCHEMA);
    const live = "(expires IS NULL OR expires > ?)";
    this.#select = db.prepare(`SELECT value FROM keyv WHERE key = ? AND ${live}`).pluck();
    this.#upsert = db.prepare(
      "INSERT INTO keyv (key, value, expires) VALUES (?, ?, ?) " +
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
    );
    this.#remove = db.prepare("DELETE FROM keyv WHERE key = ? RETURNING expires").pluck();
    this.#take = db.prepare("DELETE FROM keyv WHERE key = ? RETURNING value, expires");
    // One statement: SQLite takes the write lock before it reads, so the check and the
    // write see the same fence. (The WHERE also keeps ON CONFLICT from parsing as a join.)
    this.#setFenced = db.prepare(
      "INSERT INTO keyv (key, value, expires) SELECT @key, @value, NULL " +
        `WHERE ${SQLITE_FENCE_HOLDS} ` +
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
    );
    // A range rather than LIKE: no wildcard escaping, and it uses the primary key.
    this.#removeRange = db.prepare("DELETE FROM keyv WHERE key >= ? AND key < ?");
    this.#removeAll = db.prepare("DELETE FROM keyv");
    this.#sweep = db.prepare("DELETE FROM keyv WHERE expires <= ?");
  }

  #key(key: string): string {
    return this.namespace ? `${this.namespace}:${key}` : key;
  }

  /** The serialised string Keyv stored; Keyv deserialises it. */
  async get(key: string): Promise<string | undefined> {
    const value: unknown = this.#select.get(this.#key(key), this.#now());
    return typeof value === "string" ? value : undefined;
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async set(key: string, value: unknown, ttl?: number): Promise<void> {
    if (typeof value !== "string") throw new TypeError("SqliteKeyvAdapter stores strings only");
    const now = this.#now();
    const expires = typeof ttl === "number" && ttl > 0 ? now + ttl : null;
    this.#upsert.run(this.#key(key), value, expires);
    if (now - this.#lastSweep > SWEEP_EVERY_MS) {
      this.#lastSweep = now;
      this.#sweep.run(now);
    }
  }

  /** True only when a live value was removed, as with Redis where expired keys are gone. */
  async delete(key: string): Promise<boolean> {
    const expires: unknown = this.#remove.get(this.#key(key));
    if (expires === undefined) return false;
    return expires === null || (typeof expires === "number" && expires > this.#now());
  }

  /** Deletes the key and returns the serialised value, if it was live: of racing takers, one. */
  async take(key: string): Promise<string | undefined> {
    const row: unknown = this.#take.get(this.#key(key));
    if (typeof row !== "object" || row === null || !("value" in row) || !("expires" in row)) {
      return undefined;
    }
    const { value, expires } = row;
    const live = expires === null || (typeof expires === "number" && expires > this.#now());
    return live && typeof value === "string" ? value : undefined;
  }

  /** Sets the serialised value, without TTL, only if the fence still holds; false when refused. */
  async setFenced(key: string, value: string, fence: Fence): Promise<boolean> {
    const { lock, generation } = fence;
    return this.#setFenced.run({ key: this.#key(key), value, lock, generation }).changes === 1;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    const results = await Promise.all(keys.map((key) => this.delete(key)));
    return results.some(Boolean);
  }

  /** Clears this namespace only; without a namespace, the whole table. */
  async clear(): Promise<void> {
    if (!this.namespace) {
      this.#removeAll.run();
      return;
    }
    // Every key of namespace "ns" sorts in ["ns:", "ns;"), since ";" follows ":".
    this.#removeRange.run(`${this.namespace}:`, `${this.namespace};`);
  }
}
