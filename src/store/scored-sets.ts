/**
 * Sets of ids, each id with a score (a time), kept in the backend's own structure:
 * a Redis sorted set, an indexed SQLite or PostgreSQL table, a Map in memory. Each
 * add or removal touches one member, atomically, so two processes editing one set
 * at once never lose each other's edits and no call reads or writes the whole set
 * (the job index used to be one JSON list, rewritten whole on every job start and
 * finish: 383 KB at 10,000 watches, bench/watch.ts).
 */
import type Database from "better-sqlite3";
import type pg from "pg";
import { createIfMissing } from "./locks-postgres.js";
import type { Scored, ScoredSets } from "./store.js";

/** Every set of every name in one Map, shared by the memory stores of one name. */
export function memoryScoredSets(sets: Map<string, Map<string, number>>) {
  return (name: string): ScoredSets => {
    const of = (key: string) => `${name}\u0000${key}`;
    const entries = (key: string, max: number): Scored[] =>
      [...(sets.get(of(key)) ?? [])]
        .filter(([, score]) => score <= max)
        .sort((a, b) => a[1] - b[1])
        .map(([member, score]) => ({ member, score }));
    return {
      put: async (key, member, score) => {
        const set = sets.get(of(key)) ?? new Map<string, number>();
        sets.set(of(key), set);
        set.set(member, score);
      },
      remove: async (key, member) => {
        sets.get(of(key))?.delete(member);
      },
      upTo: async (key, max) => entries(key, max).map((e) => e.member),
      scoresUpTo: async (key, max) => entries(key, max),
      drop: async (key) => {
        sets.delete(of(key));
      },
    };
  };
}

const SQLITE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS store_scored (name TEXT NOT NULL, key TEXT NOT NULL, member TEXT NOT NULL,
    score REAL NOT NULL, PRIMARY KEY (name, key, member));
  CREATE INDEX IF NOT EXISTS store_scored_by_score ON store_scored(name, key, score);
`;

export function sqliteScoredSets(db: Database.Database) {
  db.exec(SQLITE_SCHEMA);
  const put = db.prepare(
    "INSERT INTO store_scored (name, key, member, score) VALUES (?, ?, ?, ?) " +
      "ON CONFLICT (name, key, member) DO UPDATE SET score = excluded.score",
  );
  const remove = db.prepare("DELETE FROM store_scored WHERE name = ? AND key = ? AND member = ?");
  const upTo = db
    .prepare(
      "SELECT member FROM store_scored WHERE name = ? AND key = ? AND score <= ? ORDER BY score",
    )
    .pluck();
  const scoresUpTo = db.prepare(
    "SELECT member, score FROM store_scored WHERE name = ? AND key = ? AND score <= ? ORDER BY score",
  );
  const drop = db.prepare("DELETE FROM store_scored WHERE name = ? AND key = ?");
  return (name: string): ScoredSets => ({
    put: async (key, member, score) => {
      put.run(name, key, member, score);
    },
    remove: async (key, member) => {
      remove.run(name, key, member);
    },
    upTo: async (key, max) => upTo.all(name, key, max) as string[],
    scoresUpTo: async (key, max) => scoresUpTo.all(name, key, max) as Scored[],
    drop: async (key) => {
      drop.run(name, key);
    },
  });
}

const PG_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS store_scored (name TEXT NOT NULL, key TEXT NOT NULL, member TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL, PRIMARY KEY (name, key, member))`,
  "CREATE INDEX IF NOT EXISTS store_scored_by_score ON store_scored(name, key, score)",
];

export async function postgresScoredSets(pool: pg.Pool) {
  await createIfMissing(pool, ...PG_SCHEMA);
  return (name: string): ScoredSets => ({
    put: async (key, member, score) => {
      await pool.query(
        `INSERT INTO store_scored (name, key, member, score) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name, key, member) DO UPDATE SET score = excluded.score`,
        [name, key, member, score],
      );
    },
    remove: async (key, member) => {
      await pool.query("DELETE FROM store_scored WHERE name = $1 AND key = $2 AND member = $3", [
        name,
        key,
        member,
      ]);
    },
    upTo: async (key, max) =>
      (
        await pool.query<{ member: string }>(
          "SELECT member FROM store_scored WHERE name = $1 AND key = $2 AND score <= $3 ORDER BY score",
          [name, key, max],
        )
      ).rows.map((r) => r.member),
    scoresUpTo: async (key, max) =>
      (
        await pool.query<Scored>(
          "SELECT member, score FROM store_scored WHERE name = $1 AND key = $2 AND score <= $3 ORDER BY score",
          [name, key, max],
        )
      ).rows,
    drop: async (key) => {
      await pool.query("DELETE FROM store_scored WHERE name = $1 AND key = $2", [name, key]);
    },
  });
}

/** The commands used here, so any node-redis v5 client fits. */
export interface RedisSortedSets {
  zAdd(key: string, member: { score: number; value: string }): Promise<unknown>;
  zRem(key: string, member: string): Promise<unknown>;
  zRangeByScore(key: string, min: number | string, max: number | string): Promise<string[]>;
  zRangeByScoreWithScores(
    key: string,
    min: number | string,
    max: number | string,
  ): Promise<{ value: string; score: number }[]>;
  del(key: string): Promise<unknown>;
}

const bound = (max: number) => (max === Number.POSITIVE_INFINITY ? "+inf" : max);

export function redisScoredSets(client: RedisSortedSets) {
  return (name: string): ScoredSets => {
    const of = (key: string) => `scored:${name}:${key}`;
    return {
      put: async (key, member, score) => {
        await client.zAdd(of(key), { score, value: member });
      },
      remove: async (key, member) => {
        await client.zRem(of(key), member);
      },
      upTo: (key, max) => client.zRangeByScore(of(key), "-inf", bound(max)),
      scoresUpTo: async (key, max) =>
        (await client.zRangeByScoreWithScores(of(key), "-inf", bound(max))).map((e) => ({
          member: e.value,
          score: e.score,
        })),
      drop: async (key) => {
        await client.del(of(key));
      },
    };
  };
}
