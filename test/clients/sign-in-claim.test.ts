/**
 * A sign-in's `state` is single-use on every backend: OAuth callbacks racing with
 * one state (a double click, a replayed link) let exactly one through. Redis and
 * PostgreSQL are the real local servers; when one is down this fails, never skips.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { MastodonOAuth } from "../../src/clients/oauth.js";
import { SIGN_IN_TTL_MS, SignIn } from "../../src/clients/sign-in.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";
import type { Store } from "../../src/store/store.js";
import { backendUrls } from "../helpers/backends.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-claim-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends = backendUrls(dir);

/** claim() talks to no server: the OAuth client is never called. */
const noOAuth = {} as unknown as MastodonOAuth;

function signInOver(store: Store): SignIn {
  return new SignIn(noOAuth, store, new Sealer(randomBytes(32)), {});
}

/** A pending sign-in as begin() leaves it, under a fresh state. */
async function pending(store: Store, user: string, at = Date.now()): Promise<string> {
  const state = randomBytes(24).toString("base64url");
  await store
    .namespace("oauth-pending")
    .set(state, { user, origin: "https://old.example", at, purpose: "old" }, SIGN_IN_TTL_MS);
  return state;
}

for (const [name, url] of Object.entries(backends)) {
  describe(name, () => {
    it("of 50 concurrent claims of one state, exactly one wins", async () => {
      const store = await openStore(url());
      try {
        const signIn = signInOver(store);
        const state = await pending(store, "tg:7");
        const claims = await Promise.all(Array.from({ length: 50 }, () => signIn.claim(state)));
        expect(claims.filter((c) => c !== undefined)).toEqual([
          { user: "tg:7", origin: "https://old.example", purpose: "old" },
        ]);
        expect(await signIn.claim(state)).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it("a state older than 10 minutes wins nothing, and is gone", async () => {
      const store = await openStore(url());
      try {
        const signIn = signInOver(store);
        const state = await pending(store, "tg:7", Date.now() - SIGN_IN_TTL_MS - 1);
        expect(await signIn.claim(state)).toBeUndefined();
        expect(await store.namespace("oauth-pending").get(state)).toBeUndefined();
      } finally {
        await store.close();
      }
    });
  });
}
