/**
 * The bot's own ActivityPub identity, for servers in secure mode (AUTHORIZED_FETCH, and
 * GoToSocial always), which show actors and collections only to signed requests: an
 * `Application` actor at PUBLIC_URL/actor holding the public key, found by WebFinger as
 * `fedimove@HOST` (Mastodon makes an account of a signer only when its WebFinger loops back to
 * the actor, and only with an inbox), like Mastodon's own instance actor.
 *
 * The RSA key pair is made once for the whole deployment, under a lock so two processes
 * starting together make one, and kept with the private key sealed at rest.
 */
import { createPrivateKey, generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { z } from "zod";
import { SealedSchema } from "../model/sealed.js";
import type { RequestSigner } from "../net/signatures.js";
import { collection } from "../store/collection.js";
import type { Sealer } from "../store/seal.js";
import type { KeyValue, Store } from "../store/store.js";
import { withLock } from "../store/with-lock.js";

const generate = promisify(generateKeyPair);

/** The actor's preferredUsername, and the user part of its WebFinger handle. */
export const INSTANCE_ACTOR_NAME = "fedimove";
const NAMESPACE = "instance-actor";
const KEY = "key";

const StoredKey = z.object({
  publicKeyPem: z.string().startsWith("-----BEGIN PUBLIC KEY-----"),
  privateKey: SealedSchema,
  createdAt: z.number(),
});
type StoredKey = z.infer<typeof StoredKey>;

interface Loaded {
  publicKeyPem: string;
  privateKey: KeyObject;
}

export class InstanceActor {
  private readonly keys: KeyValue<StoredKey>;
  private loading: Promise<Loaded> | undefined;
  /** https://bot.example/actor */
  readonly id: string;
  readonly keyId: string;

  constructor(
    private readonly store: Store,
    private readonly sealer: Sealer,
    publicUrl: string,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = collection(store, NAMESPACE, StoredKey, now);
    this.id = `${publicUrl.replace(/\/+$/, "")}/actor`;
    this.keyId = `${this.id}#main-key`;
  }

  /** The host in the actor's WebFinger handle: the public URL's. */
  get host(): string {
    return new URL(this.id).host;
  }

  /** Signs requests as this actor (the key made on first use). */
  async signer(): Promise<RequestSigner> {
    const { privateKey } = await this.load();
    return { keyId: this.keyId, privateKey };
  }

  /** The actor document, as Mastodon's InstanceActorSerializer shapes its own. */
  async document(): Promise<Record<string, unknown>> {
    const { publicKeyPem } = await this.load();
    return {
      "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
      id: this.id,
      type: "Application",
      preferredUsername: INSTANCE_ACTOR_NAME,
      name: "fedimove",
      summary: "A bot that helps people move their Mastodon account. It reads, it doesn't post.",
      inbox: `${this.id}/inbox`,
      outbox: `${this.id}/outbox`,
      url: this.id,
      manuallyApprovesFollowers: true,
      publicKey: { id: this.keyId, owner: this.id, publicKeyPem },
    };
  }

  /** The WebFinger record for `acct:fedimove@HOST`, or undefined for any other resource. */
  webfinger(resource: string): Record<string, unknown> | undefined {
    const subject = `acct:${INSTANCE_ACTOR_NAME}@${this.host}`;
    if (resource.toLowerCase() !== subject.toLowerCase() && resource !== this.id) return undefined;
    return {
      subject,
      aliases: [this.id],
      links: [{ rel: "self", type: "application/activity+json", href: this.id }],
    };
  }

  private load(): Promise<Loaded> {
    this.loading ??= this.loadOrCreate().catch((err) => {
      // A store that was down is asked again next time.
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  private async loadOrCreate(): Promise<Loaded> {
    const stored =
      (await this.keys.get(KEY)) ??
      (await withLock(this.store.locks, `${NAMESPACE}:create`, async () => {
        const again = await this.keys.get(KEY);
        if (again) return again;
        const pair = await generate("rsa", { modulusLength: 2048 });
        const made: StoredKey = {
          publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString(),
          privateKey: this.sealer.seal(
            pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
          ),
          createdAt: this.now(),
        };
        await this.keys.set(KEY, made);
        return made;
      }));
    return {
      publicKeyPem: stored.publicKeyPem,
      privateKey: createPrivateKey(this.sealer.unseal(stored.privateKey)),
    };
  }
}
