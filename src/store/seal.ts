/**
 * Secrets at rest (access tokens): AES-256-GCM with a key derived from one secret
 * kept in a file beside the data. A sealed value is `s1.<iv>.<tag>.<ciphertext>`,
 * base64url; the "s1" lets a later format sit beside this one.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Sealed, SealedSchema } from "../model/sealed.js";
import { narrowFile, privateFolder } from "./private-files.js";

const INFO = "fedimove seal v1";
const IV_BYTES = 12;

/** Never carries the plaintext, the key or the sealed value. */
export class SealError extends Error {
  override readonly name = "SealError";
}

/** The 32-byte AES key for a secret (HKDF-SHA256, fixed info so keys never change). */
export function deriveKey(secret: string): Buffer {
  if (!secret) throw new SealError("the sealing secret is empty");
  return Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), INFO, 32));
}

export class Sealer {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new SealError("the sealing key must be 32 bytes");
    this.#key = Buffer.from(key);
  }

  seal(plain: string): Sealed {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), data].map((b) => b.toString("base64url"));
    return SealedSchema.parse(`s1.${parts.join(".")}`);
  }

  unseal(sealed: Sealed): string {
    // Typed as Sealed, but it came from storage: check the shape again.
    const [, iv, tag, data] = SealedSchema.safeParse(sealed).success ? sealed.split(".") : [];
    if (iv === undefined || tag === undefined || data === undefined) {
      throw new SealError("not a sealed value");
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64url"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      const plain = Buffer.concat([
        decipher.update(Buffer.from(data, "base64url")),
        decipher.final(),
      ]);
      return plain.toString("utf8");
    } catch {
      // No cause attached: nothing from the attempt belongs in a log.
      throw new SealError("cannot unseal: wrong key, or the value was altered");
    }
  }
}

/**
 * The sealing secret from `path`, created on first run (32 random bytes,
 * base64url) readable by this user only, in a folder only this user can open
 * (modes set outright, so no umask widens or blocks them). An existing file
 * others can read is narrowed to 0600 rather than refused, so an upgrade does
 * not stop the bot.
 */
export function loadOrCreateSecretFile(path: string): string {
  try {
    const secret = readFileSync(path, "utf8").trim();
    narrowFile(path);
    if (!secret) throw new SealError(`the secret file ${path} is empty`);
    return secret;
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  privateFolder(dirname(path));
  const secret = randomBytes(32).toString("base64url");
  try {
    // "wx": if another process created it meanwhile, use theirs, not ours.
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
    return secret;
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "EEXIST") {
      return loadOrCreateSecretFile(path);
    }
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
