/**
 * The reliability harness's secrets part, small: whole journeys (a pasted token, and OAuth with
 * a pasted code) on SQLite, the real Redis and the real PostgreSQL, then every byte each store
 * holds, every log line and every reply searched for every token and code: none in clear. The
 * stand-ins fail a fifth of the requests, so the error paths log and their lines are searched.
 */
import { describe, expect, it } from "vitest";
import { type Backend, runSecrets } from "../../bench/lib/reliability/secrets.js";

describe("no token or code in clear after whole journeys", () => {
  for (const backend of ["sqlite", "redis", "postgres"] satisfies Backend[]) {
    it(`on ${backend}`, { timeout: 60_000 }, async () => {
      const f = await runSecrets(backend, 2, { rate: 0.2, seed: 20261203 });
      expect(f.finished).toBe(2);
      // Two app tokens, one old token pasted, one OAuth code pasted (or more: a sign-in a fault
      // cut short is begun again, with a new code).
      expect(f.secretsUsed).toBeGreaterThanOrEqual(4);
      expect(f.searched[`${backend} store`]).toBeGreaterThan(1000);
      expect(f.handlesSeen).toBe(true); // the search reads what the store keeps in clear
      expect(f.faultsInjected).toBeGreaterThan(0);
      expect(f.searched.logs).toBeGreaterThan(0); // the logs searched aren't empty
      expect(f.found).toEqual([]);
    });
  }
});
