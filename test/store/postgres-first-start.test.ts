/**
 * Several processes starting at once on an empty PostgreSQL database (a fresh
 * deployment, every replica up together) each create the tables they need. Two
 * `CREATE TABLE IF NOT EXISTS` racing can still fail in PostgreSQL ("type … already
 * exists"), which once stopped a bot at start in CI. Every opener must succeed.
 */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import { POSTGRES_URL } from "../helpers/backends.js";

const DB = "fedimove_first_start";
const OPENERS = 8;
const ROUNDS = 6;

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

const freshDatabase = () =>
  admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${DB}`);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${DB}`;
    return url.toString();
  });

afterAll(() => admin((c) => c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)));

describe("PostgreSQL, first start of several processes at once", () => {
  it(`${OPENERS} stores opened together on an empty database all open and share one table`, {
    timeout: 60_000,
  }, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const url = await freshDatabase();
      const opened = await Promise.allSettled(
        Array.from({ length: OPENERS }, () => openStore(url)),
      );
      const stores = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      try {
        const failures = opened.flatMap((o) =>
          o.status === "rejected" ? [String(o.reason?.message ?? o.reason)] : [],
        );
        expect(failures, `round ${round}`).toEqual([]);
        // What one wrote, every other reads: the same table, not one each.
        await stores[0]?.namespace("first-start").set("k", { round });
        for (const s of stores) {
          expect(await s.namespace("first-start").get("k")).toEqual({ round });
        }
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    }
  });
});
