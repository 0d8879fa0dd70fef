/**
 * One-time pages on the bot's web side, for a channel that can't carry a file or a secret:
 * a download link for a file the bot would have attached (24 hours), a form where the person
 * gives micro.blog's app token (15 minutes), a form where they upload their follows file
 * (15 minutes). Each is a random id bound to one person, used up by its first submission
 * (opening the page doesn't count: link previews open pages too), and gone when it expires.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { SecretPurpose } from "../../chat/channel.js";
import { type UserKey, UserKeySchema } from "../../chat/conversation.js";
import { collection } from "../../store/collection.js";
import type { KeyValue, Store } from "../../store/store.js";

export const DOWNLOAD_MS = 24 * 3_600_000;
export const FORM_MS = 15 * 60_000;

const Entry = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("download"),
    user: UserKeySchema,
    name: z.string(),
    /** base64 */
    bytes: z.string(),
    expiresAt: z.number(),
  }),
  z.object({
    kind: z.literal("secret"),
    user: UserKeySchema,
    purpose: z.literal("microblog-token"),
    expiresAt: z.number(),
  }),
  z.object({ kind: z.literal("upload"), user: UserKeySchema, expiresAt: z.number() }),
]);
export type Entry = z.infer<typeof Entry>;

export class OneTimePages {
  private readonly kv: KeyValue<Entry>;

  constructor(
    store: Store,
    readonly publicUrl: string,
    private readonly now: () => number = Date.now,
  ) {
    this.kv = collection(store, "one-time", Entry);
  }

  private async create(entry: Entry, path: string, ttlMs: number) {
    const id = randomBytes(24).toString("base64url");
    await this.kv.set(id, entry, ttlMs);
    return { url: `${this.publicUrl}/${path}/${id}`, expiresAt: entry.expiresAt };
  }

  download(user: UserKey, name: string, bytes: Uint8Array) {
    const expiresAt = this.now() + DOWNLOAD_MS;
    const entry: Entry = {
      kind: "download",
      user,
      name,
      bytes: Buffer.from(bytes).toString("base64"),
      expiresAt,
    };
    return this.create(entry, "d", DOWNLOAD_MS);
  }

  secretForm(user: UserKey, purpose: SecretPurpose) {
    return this.create(
      { kind: "secret", user, purpose, expiresAt: this.now() + FORM_MS },
      "f",
      FORM_MS,
    );
  }

  uploadForm(user: UserKey) {
    return this.create({ kind: "upload", user, expiresAt: this.now() + FORM_MS }, "u", FORM_MS);
  }

  /** The page's entry while it is valid, without using it up. */
  async peek<K extends Entry["kind"]>(
    id: string,
    kind: K,
  ): Promise<Extract<Entry, { kind: K }> | undefined> {
    if (!/^[A-Za-z0-9_-]{32}$/.test(id)) return undefined;
    const entry = await this.kv.get(id);
    const ofKind = (e: Entry): e is Extract<Entry, { kind: K }> => e.kind === kind;
    if (!entry || !ofKind(entry) || entry.expiresAt <= this.now()) return undefined;
    return entry;
  }

  /**
   * The entry, used up: of two submissions, even from two processes, exactly one
   * gets it (the store's atomic take); the other finds nothing.
   */
  async claim<K extends Entry["kind"]>(
    id: string,
    kind: K,
  ): Promise<Extract<Entry, { kind: K }> | undefined> {
    if (!(await this.peek(id, kind))) return undefined;
    const taken = await this.kv.take(id);
    const ofKind = (e: Entry): e is Extract<Entry, { kind: K }> => e.kind === kind;
    return taken && ofKind(taken) && taken.expiresAt > this.now() ? taken : undefined;
  }
}
