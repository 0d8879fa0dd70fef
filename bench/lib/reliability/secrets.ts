/**
 * Secrets at rest: whole journeys (half signing in with a pasted token, half by OAuth with a
 * pasted code) on each real store, then everything each store holds — the SQLite file and its
 * WAL byte by byte, every Redis key and value, every PostgreSQL row — and every log line and
 * reply is searched for each token and code the people gave: none may be there in clear.
 *
 * With `faults`, both stand-ins fail some requests too (as in the faults part): a clean journey
 * logs almost nothing, and the error paths — an error's message, a URL it names — are where a
 * token would slip into a log.
 *
 * Redis and PostgreSQL are the real local servers, shared with other tests: the run uses a
 * Redis database index of its own (emptied before and after) and a PostgreSQL database of its
 * own (created and dropped), so no other test's jobs are touched, nor ours by them.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@keyv/redis";
import pg from "pg";
import { plain } from "../../../src/chat/text.js";
import { setLogLevel } from "../../../src/log.js";
import { openStore } from "../../../src/store/open-store.js";
import { Sealer } from "../../../src/store/seal.js";
import type { Store } from "../../../src/store/store.js";
import { makeChat } from "../../../test/helpers/chat.js";
import { FAST_WATCH } from "./faults.js";
import { walk } from "./journey.js";
import { startTown } from "./town.js";

const REDIS = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const POSTGRES = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** A Redis database index nothing else in the project uses. */
const REDIS_DB = 13;

export type Backend = "sqlite" | "redis" | "postgres";

export interface SecretFigures {
  journeys: number;
  finished: number;
  secretsUsed: number;
  /** Each secret found, and where. */
  found: string[];
  /** Faults the stand-ins gave (with `faults`). */
  faultsInjected: number;
  /** How much was searched, per place. */
  searched: Record<string, number>;
  /** Whether the store's text shows what is kept in clear (the handles): the search sees it. */
  handlesSeen: boolean;
}

interface Place {
  url: string;
  /** Everything the store holds, as text (and raw bytes for a file). */
  dump(): Promise<string>;
  cleanup(): Promise<void>;
}

async function place(backend: Backend): Promise<Place> {
  if (backend === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "fedimove-secrets-"));
    const file = join(dir, "fedimove.sqlite");
    return {
      url: `sqlite:${file}`,
      dump: async () =>
        ["", "-wal", "-shm"]
          .filter((x) => existsSync(file + x))
          .map((x) => readFileSync(file + x).toString("latin1"))
          .join("\n"),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (backend === "redis") {
    const url = `${REDIS.replace(/\/\d*$/, "")}/${REDIS_DB}`;
    const client = createClient({ url });
    await client.connect();
    await client.flushDb();
    return {
      url,
      async dump() {
        const out: string[] = [];
        for (const key of await client.keys("*")) {
          out.push(key);
          const type = await client.type(key);
          if (type === "string") out.push((await client.get(key)) ?? "");
          else if (type === "hash") out.push(JSON.stringify(await client.hGetAll(key)));
          else if (type === "set") out.push(JSON.stringify(await client.sMembers(key)));
          else if (type === "list") out.push(JSON.stringify(await client.lRange(key, 0, -1)));
          else if (type === "zset") out.push(JSON.stringify(await client.zRange(key, 0, -1)));
        }
        return out.join("\n");
      },
      async cleanup() {
        await client.flushDb();
        await client.quit();
      },
    };
  }
  const name = `fedimove_rel_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = POSTGRES.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    async dump() {
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      try {
        const { rows } = await db.query<{ t: string }>(
          "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public'",
        );
        const out: string[] = [];
        for (const { t } of rows) {
          const all = await db.query<{ row: string }>(`SELECT x::text AS row FROM "${t}" x`);
          out.push(...all.rows.map((r) => r.row));
        }
        return out.join("\n");
      } finally {
        await db.end();
      }
    },
    async cleanup() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Runs `people` journeys on `backend` and searches what it holds afterwards. */
export async function runSecrets(
  backend: Backend,
  people: number,
  faults?: { rate: number; seed: number },
): Promise<SecretFigures> {
  const where = await place(backend);
  const town = await startTown({ people, oauth: true });
  if (faults) town.setChaos({ ...faults, hangMs: 1500, slowMs: 200 });
  const logged: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    logged.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
  // Every line the bot would log, debug included.
  setLogLevel("debug");
  let store: Store | undefined;
  try {
    store = await openStore(where.url);
    const sealer = new Sealer(randomBytes(32));
    const chats = await Promise.all(
      town.people.map((_, i) =>
        makeChat(town.world.loopback, {
          store,
          sealer,
          user: `tg:${7000 + i}`,
          pollMs: 30,
          watch: FAST_WATCH,
          ...(faults ? { timeoutMs: 1000 } : {}),
        }),
      ),
    );
    const walks = await Promise.all(
      town.people.map((person, i) => walk(chats[i]!, person, town, 90_000)),
    );
    for (const chat of chats) {
      await chat.jobs.idle();
      await chat.core.close();
    }
    const replies = chats.flatMap((c) =>
      c.notified.map((r) =>
        r.kind === "file" ? new TextDecoder().decode(r.bytes) : plain(r.text),
      ),
    );
    await store.close();
    store = undefined;
    const held = await where.dump();
    const texts: Record<string, string> = {
      [`${backend} store`]: held,
      logs: logged.join(""),
      replies: replies.join("\n"),
    };
    const secrets = town.people.flatMap((p) => p.secrets);
    const found: string[] = [];
    for (const secret of secrets)
      for (const [name, text] of Object.entries(texts))
        if (text.includes(secret)) found.push(`${secret.slice(0, 4)}… in ${name}`);
    return {
      journeys: people,
      finished: walks.filter((w) => w.finished).length,
      secretsUsed: secrets.length,
      found,
      faultsInjected: town.faultsInjected(),
      searched: Object.fromEntries(Object.entries(texts).map(([k, v]) => [k, v.length])),
      handlesSeen: town.people.every((p) => held.includes(`${p.username}@`)),
    };
  } finally {
    town.setChaos(null);
    setLogLevel("info");
    process.stderr.write = write;
    await store?.close().catch(() => undefined);
    await town.close();
    await where.cleanup();
  }
}
