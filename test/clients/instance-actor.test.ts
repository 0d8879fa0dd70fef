/**
 * The bot's instance actor: one key for the deployment, sealed at rest, served at /actor with
 * a WebFinger record that loops back; with it, the Fediverse client's reads of a server in
 * secure mode are signed and answered, and without it they are refused.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { startWeb } from "../../src/channels/web/server.js";
import { FediverseClient } from "../../src/clients/fediverse.js";
import { InstanceActor } from "../../src/clients/instance-actor.js";
import { RejectedError } from "../../src/net/errors.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { Sealer } from "../../src/store/seal.js";
import { closedAfterEach } from "../helpers/closing.js";
import { client } from "../net/serve.js";

const closing = closedAfterEach<MastodonSandbox>();
const webs: Server[] = [];
afterEach(async () => {
  for (const w of webs.splice(0)) {
    w.closeAllConnections();
    await new Promise((r) => w.close(r));
  }
});

/** The bot's web side with only the actor routes, and the actor it serves. */
async function servedActor(store = openMemoryStore(), sealer = new Sealer(randomBytes(32))) {
  let actor: InstanceActor | undefined;
  const started = await startWeb(
    {
      callback: async () => ({ status: 404, title: "", body: "" }),
      actor: {
        document: () => actor!.document(),
        webfinger: (resource) => actor!.webfinger(resource),
      },
    },
    { host: "127.0.0.1", port: 0 },
  );
  webs.push(started.server);
  actor = new InstanceActor(store, sealer, started.url);
  return { actor, url: started.url, store };
}

describe("the instance actor", () => {
  it("makes its key once, keeps the private half sealed, and every process signs with it", async () => {
    const store = openMemoryStore();
    const sealer = new Sealer(randomBytes(32));
    const a = new InstanceActor(store, sealer, "https://bot.example");
    const b = new InstanceActor(store, sealer, "https://bot.example");
    const [da, db] = await Promise.all([a.document(), b.document()]);
    expect((da.publicKey as { publicKeyPem: string }).publicKeyPem).toBe(
      (db.publicKey as { publicKeyPem: string }).publicKeyPem,
    );
    const raw = JSON.stringify(await store.namespace("instance-actor").get("key"));
    expect(raw).toContain('"privateKey":"s1.');
    expect(raw).not.toContain("PRIVATE KEY");
    const later = new InstanceActor(store, sealer, "https://bot.example");
    expect((await later.document()).publicKey).toEqual(da.publicKey);
    expect((await later.signer()).keyId).toBe("https://bot.example/actor#main-key");
  });

  it("is served as an Application at /actor, found by WebFinger as fedimove@host", async () => {
    const { url } = await servedActor();
    const res = await fetch(`${url}/actor`, { headers: { accept: "application/activity+json" } });
    expect(res.headers.get("content-type")).toMatch(/^application\/activity\+json/);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      id: `${url}/actor`,
      type: "Application",
      preferredUsername: "fedimove",
      inbox: `${url}/actor/inbox`,
      publicKey: { id: `${url}/actor#main-key`, owner: `${url}/actor` },
    });
    const host = new URL(url).host;
    const wf = await fetch(`${url}/.well-known/webfinger?resource=acct:fedimove@${host}`);
    expect(await wf.json()).toMatchObject({
      subject: `acct:fedimove@${host}`,
      links: [{ rel: "self", href: `${url}/actor` }],
    });
    const other = await fetch(`${url}/.well-known/webfinger?resource=acct:ada@${host}`);
    expect(other.status).toBe(404);
  });

  it("signs the reads a secure-mode server asks for; unsigned, they are refused", async () => {
    const old = closing(await startMastodonSandbox({ authorizedFetch: true, rateLimit: null }));
    old.addAccount({ username: "ada" });
    old.seedFollowers("ada", 5);
    const { actor } = await servedActor();
    const { http } = client();
    const signed = new FediverseClient(
      http,
      () => old.url,
      () => actor.signer(),
    );
    const unsigned = new FediverseClient(http, () => old.url);
    const actorUrl = `${old.url}/users/ada`;

    const a = await signed.actor(actorUrl);
    expect(a.preferredUsername).toBe("ada");
    expect(await signed.collectionTotal(a.followers!)).toBe(5);

    const refused = await unsigned.actor(actorUrl).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RejectedError);
    expect((refused as RejectedError).status).toBe(401);
    expect((refused as RejectedError).message).toMatch(/signed requests \(secure mode\)/);
    const count = await unsigned.collectionTotal(a.followers!).catch((e: unknown) => e);
    expect((count as RejectedError).status).toBe(401);
  });
});
