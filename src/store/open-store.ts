/**
 * Opens the Store that STORE_URL names. Each opener connects once, fails fast when
 * the server is unreachable, and hands the one connection to the Keyv adapters and
 * the locks alike; Store.close() closes it.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import KeyvPostgres from "@keyv/postgres";
import KeyvRedis, { createClient } from "@keyv/redis";
import Database from "better-sqlite3";
import pg from "pg";
import { KeyvStore } from "./keyv-store.js";
import { createIfMissing, PostgresLocks } from "./locks-postgres.js";
import { RedisLocks } from "./locks-redis.js";
import { SqliteLocks } from "./locks-sqlite.js";
import { openMemoryStore } from "./memory-store.js";
import { startCheckpointer } from "./sqlite-checkpointer.js";
import { SqliteKeyvAdapter } from "./sqlite-keyv-adapter.js";
import type { Store } from "./store.js";

const ACCEPTED =
  "sqlite:<path>, sqlite://<path>, redis://…, rediss://…, postgres://…, postgresql://… or memory:";

const CONNECT_TIMEOUT_MS = 5_000;

export async function openStore(url: string): Promise<Store> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case "memory":
      return openMemoryStore(url.slice("memory:".length));
    case "sqlite":
      return openSqlite(sqlitePath(url));
    case "redis":
    case "rediss":
      return openRedis(url);
    case "postgres":
    case "postgresql":
      return openPostgres(url);
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

function openSqlite(path: string): Store {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // busy_timeout: another process holding the write lock makes us wait, not fail.
  const db = new Database(path, { timeout: CONNECT_TIMEOUT_MS });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  const checkpointer = path === ":memory:" ? undefined : startCheckpointer(db, path);
  return new KeyvStore({
    kind: "sqlite",
    locks: new SqliteLocks(db),
    isolates: true,
    adapter: () => new SqliteKeyvAdapter(db),
    close: async () => {
      await checkpointer?.close();
      db.close();
    },
  });
}

async function openRedis(url: string): Promise<Store> {
  let connected = false;
  const client = createClient({
    url,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Retry forever once we have been connected; before that, the server is
      // simply not there, and openStore should say so rather than hang.
      reconnectStrategy: (retries, cause) =>
        connected ? Math.min(100 * 2 ** retries, 2_000) : cause,
    },
  });
  // Failures reach the callers of the failed commands; without a listener the
  // client's "error" events would crash the process.
  client.on("error", () => {});
  // Each @keyv/redis adapter adds its own listeners to the shared client.
  client.setMaxListeners(0);
  await client.connect();
  connected = true;
  return new KeyvStore({
    kind: "redis",
    locks: new RedisLocks(client),
    isolates: true,
    // Keys are "<namespace>::<key>"; throwOnErrors, or a failed read is "not found".
    adapter: (namespace) => new KeyvRedis(client, { namespace, throwOnErrors: true }),
    close: async () => {
      await client.close();
    },
  });
}

/** The keyv table exactly as @keyv/postgres creates it, created first so its own CREATE never races. */
const KEYV_PG_SCHEMA =
  "CREATE TABLE IF NOT EXISTS public.keyv(key VARCHAR(255) PRIMARY KEY, value TEXT )";

async function openPostgres(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle connection dropped by the server emits "error" on the pool; the next
  // query reconnects and reports its own failure.
  pool.on("error", () => {});
  try {
    await createIfMissing(pool, KEYV_PG_SCHEMA);
    const locks = await PostgresLocks.open(pool);
    const Adapter = pooledKeyvPostgres(pool);
    return new KeyvStore({
      kind: "postgres",
      locks,
      isolates: false,
      adapter: () => new Adapter(),
      close: () => pool.end(),
    });
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/**
 * @keyv/postgres keeps one pg pool per module, replaced whenever a different URL
 * comes along and ended by any instance's disconnect(). We give it our own pool.
 */
function pooledKeyvPostgres(pool: pg.Pool) {
  return class PooledKeyvPostgres extends KeyvPostgres {
    override async connect() {
      return async (sql: string, values?: unknown[]) => (await pool.query(sql, values)).rows;
    }
    override async disconnect() {}
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
