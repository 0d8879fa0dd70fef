/**
 * A World for tests that need no server: every part that would reach one
 * throws "not used" unless the test gives its own. Servers answer the probe as
 * Mastodon 4.3 at their own domain.
 */
import type { World } from "../../src/clients/world.js";

const notUsed = (what: string) => () => {
  throw new Error(`${what}: not used in this test`);
};

export function fakeWorld(parts: Partial<World> = {}): World {
  return {
    allowPrivateNetwork: false,
    originOf: (host) => `https://${host}`,
    probeMastodon: async (origin) => ({
      domain: new URL(origin).host,
      software: "mastodon",
      version: "4.3.2",
    }),
    mastodon: notUsed("mastodon"),
    newAccount: notUsed("newAccount"),
    serversAnswering: async (hosts) => new Set(hosts),
    fediverse: new Proxy({} as World["fediverse"], {
      get: (_, p) => notUsed(`fediverse.${String(p)}`),
    }),
    revokeAll: async () => "",
    signIn: {
      begin: async (_user, instance) => ({
        state: "s".repeat(32),
        url: `${instance.origin}/oauth/authorize`,
        redirect: "oob",
      }),
      finish: notUsed("signIn.finish"),
    },
    ...parts,
  };
}
