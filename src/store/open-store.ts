/**
 * Opens the Store that STORE_URL names. Each opener connects once, fails fast when
 * the server is unreachable, and hands the one connection to the Keyv adapters and
 * the locks alike; Store.close() closes it.
 *
 * Once open, no call waits on a backend for long: besides the Store's own bound on
 * every call (keyv-store.ts), each driver gives up by itself, so nothing piles up
 * behind a dead server: Redis rejects commands while it reconnects (no offline
 * queue); PostgreSQL cancels statements and
 * gives up on connecting; SQLite stops waiting for another process's write lock.
 */
import { dirname } from "node:path";
import KeyvPostgres from "@keyv/postgres";
import KeyvRedis, { createClient } from "@keyv/redis";
import Database from "better-sqlite3";
import pg from "pg";
import { CALL_TIMEOUT_MS, KeyvStore } from "./keyv-store.js";
import { RedisLimits } from "./limits-redis.js";
import { createIfMissing, PG_FENCE_HOLDS, PostgresLocks } from "./locks-postgres.js";
import { REDIS_FENCED_SET, RedisLocks, redisFenceKey } from "./locks-redis.js";
import { SqliteLocks } from "./locks-sqlite.js";
import { openMemoryStore } from "./memory-store.js";
import { narrowFile, privateFile, privateFolder } from "./private-files.js";
import { reconnectOnceConnected } from "./redis-reconnect.js";
import { bySha } from "./redis-scripts.js";
import { postgresScoredSets, redisScoredSets, sqliteScoredSets } from "./scored-sets.js";
import { startCheckpointer } from "./sqlite-checkpointer.js";
import { SqliteKeyvAdapter } from "./sqlite-keyv-adapter.js";
import { enterWal } from "./sqlite-wal.js";
import type { Store } from "./store.js";

const ACCEPTED =
  "sqlite:<path>, sqlite://<path>, redis://…, rediss://…, postgres://…, postgresql://… or memory:";

const CONNECT_TIMEOUT_MS = 5_000;

export interface StoreOptions {
  /** How long one call may wait for the backend before it fails as unavailable. Default 5 s. */
  callTimeoutMs?: number;
}

export async function openStore(url: string, opts: StoreOptions = {}): Promise<Store> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const callMs = opts.callTimeoutMs ?? CALL_TIMEOUT_MS;
  switch (scheme) {
    case "memory":
      return openMemoryStore(url.slice("memory:".length));
    case "sqlite":
      return openSqlite(sqlitePath(url), callMs);
    case "redis":
    case "rediss":
      return openRedis(url, callMs);
    case "postgres":
    case "postgresql":
      return openPostgres(url, callMs);
    default:
      throw new Error(`STORE_URL ${redact(url)} is not supported; use ${ACCEPTED}`);
  }
}

/** "sqlite:data/x.db", "sqlite://data/x.db", "sqlite:///abs/x.db", "sqlite::memory:". */
function sqlitePath(url: string): string {
  const path = url.replace(/^sqlite:(\/\/)?/i, "");
  if (!path) throw new Error(`STORE_URL ${redact(url)} has no file path; use ${ACCEPTED}`);
  return path;
}

function openSqlite(path: string, callMs: number): Store {
  const file = path !== ":memory:";
  if (file) {
    // Sealed tokens live in this file: this user's alone (SQLite would make it 0644).
    privateFolder(dirname(path));
    privateFile(path);
  }
  // busy_timeout: another process holding the write lock makes us wait, then fail
  // (SQLITE_BUSY, an unavailable store) rather than wait forever.
  const db = new Database(path, { timeout: callMs });
  try {
    enterWal(db, callMs);
  } catch (error) {
    db.close();
    throw error;
  }
  db.pragma("synchronous = NORMAL");
  // SQLite gives these the database's own mode; ones left by an older version may be wider.
  if (file) for (const extra of ["-wal", "-shm"]) narrowFile(`${path}${extra}`);
  const checkpointer = file ? startCheckpointer(db, path) : undefined;
  return new KeyvStore(
    {
      kind: "sqlite",
      locks: new SqliteLocks(db),
      isolates: true,
      scored: sqliteScoredSets(db),
      adapter: () => {
        const adapter = new SqliteKeyvAdapter(db);
        return {
          store: adapter,
          take: (key) => adapter.take(key),
          setFenced: (key, value, fence) => adapter.setFenced(key, value, fence),
        };
      },
      close: async () => {
        await checkpointer?.close();
        db.close();
      },
    },
    { callTimeoutMs: callMs },
  );
}

async function openRedis(url: string, callMs: number): Promise<Store> {
  const reconnect = reconnectOnceConnected();
  const client = createClient({
    url,
    socket: reconnect.socket,
    // While reconnecting, a command fails at once (ClientOfflineError) instead of
    // waiting, unbounded, for a server that may not come back.
    disableOfflineQueue: true,
    // No per-command timeout (node-redis's `commandOptions.timeout`): it only ever
    // dropped a command still waiting for the socket to drain, and cost an
    // AbortSignal.timeout per command, alive for callMs after its answer: half the
    // CPU of a turn at 2,000 turns a second (bench:scale). The Store's own bound on
    // every call (keyv-store.ts) ends the caller's wait either way.
  });
  // Failures reach the callers of the failed commands; without a listener the
  // client's "error" events would crash the process.
  client.on("error", () => {});
  // Each @keyv/redis adapter adds its own listeners to the shared client.
  client.setMaxListeners(0);
  await client.connect();
  reconnect.connected();
  const scripts = bySha(client);
  return new KeyvStore(
    {
      kind: "redis",
      locks: new RedisLocks(scripts),
      limits: new RedisLimits(scripts),
      isolates: true,
      scored: redisScoredSets(client),
      adapter: (namespace) => {
        // Keys are "<namespace>::<key>"; throwOnErrors, or a failed read is "not found".
        const adapter = new KeyvRedis(client, { namespace, throwOnErrors: true });
        const keyOf = (key: string) => adapter.createKeyPrefix(key, namespace);
        return {
          store: adapter,
          take: async (key) => (await client.getDel(keyOf(key))) ?? undefined,
          setFenced: async (key, value, { lock, generation }) =>
            (await scripts.eval(REDIS_FENCED_SET, {
              keys: [keyOf(key), redisFenceKey(lock)],
              arguments: [value, String(generation)],
            })) === 1,
        };
      },
      close: async () => {
        await client.close();
      },
    },
    { callTimeoutMs: callMs },
  );
}

/** The keyv table exactly as @keyv/postgres creates it, created first so its own CREATE never races. */
const KEYV_PG_TABLE = "public.keyv";
const KEYV_PG_SCHEMA = `CREATE TABLE IF NOT EXISTS ${KEYV_PG_TABLE}(key VARCHAR(255) PRIMARY KEY, value TEXT )`;

const PG_TAKE = `DELETE FROM ${KEYV_PG_TABLE} WHERE key = $1 RETURNING value`;
const PG_FENCED_SET = `INSERT INTO ${KEYV_PG_TABLE} (key, value)
  SELECT $1, $2 WHERE ${PG_FENCE_HOLDS("$3", "$4::bigint")}
  ON CONFLICT (key) DO UPDATE SET value = excluded.value`;

async function openPostgres(url: string, callMs: number): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    // Also the longest wait for a free connection when all are busy.
    connectionTimeoutMillis: Math.min(CONNECT_TIMEOUT_MS, callMs),
    // The server cancels a statement that runs (or waits for a row lock) this long…
    statement_timeout: callMs,
    // …and the client stops waiting for an answer that does not come.
    query_timeout: callMs,
    keepAlive: true,
  });
  // An idle connection dropped by the server emits "error" on the pool; the next
  // query reconnects and reports its own failure.
  pool.on("error", () => {});
  try {
    await createIfMissing(pool, KEYV_PG_SCHEMA);
    const locks = await PostgresLocks.open(pool);
    const Adapter = pooledKeyvPostgres(pool);
    const scored = await postgresScoredSets(pool);
    return new KeyvStore(
      {
        kind: "postgres",
        locks,
        isolates: false,
        scored,
        adapter: () => ({
          store: new Adapter(),
          take: async (key) => {
            const { rows } = await pool.query<{ value: string }>(PG_TAKE, [key]);
            return rows[0]?.value;
          },
          setFenced: async (key, value, { lock, generation }) =>
            (await pool.query(PG_FENCED_SET, [key, value, lock, generation])).rowCount === 1,
        }),
        close: () => pool.end(),
      },
      { callTimeoutMs: callMs },
    );
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/**
 * @keyv/postgres keeps one pg pool per module, replaced whenever a different URL
 * comes along and ended by any instance's disconnect(). We give it our own pool.
 * Its delete() is a SELECT then a DELETE, so two racing deletes both say "I
 * removed it"; one `DELETE … RETURNING` lets only one of them say so.
 */
function pooledKeyvPostgres(pool: pg.Pool) {
  return class PooledKeyvPostgres extends KeyvPostgres {
    override async connect() {
      return async (sql: string, values?: unknown[]) => (await pool.query(sql, values)).rows;
    }
    override async disconnect() {}
    override async delete(key: string): Promise<boolean> {
      const result = await pool.query(`DELETE FROM ${KEYV_PG_TABLE} WHERE key = $1`, [key]);
      return result.rowCount === 1;
    }
  };
}

/** The URL for an error message: password hidden; unparseable, only its scheme. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return `"${parsed.href}"`;
  } catch {
    return `"${url.split(":")[0]}:…"`;
  }
}
