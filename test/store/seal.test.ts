import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Sealed, SealedSchema } from "../../src/model/sealed.js";
import { deriveKey, loadOrCreateSecretFile, SealError, Sealer } from "../../src/store/seal.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-seal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PLAIN = "mastodon-token-Zq8x_very_secret";
const sealer = new Sealer(deriveKey("the right secret"));

/** What the sealer threw, so its message can be inspected. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

/** Flips one character of the ciphertext part, staying within base64url. */
function tamper(sealed: Sealed): Sealed {
  const at = sealed.length - 2;
  const flipped = sealed[at] === "A" ? "B" : "A";
  return SealedSchema.parse(sealed.slice(0, at) + flipped + sealed.slice(at + 1));
}

describe("Sealer", () => {
  it("round-trips, including empty and non-ASCII text", () => {
    for (const plain of [PLAIN, "", "ünïcødé ✓ 🔑"]) {
      expect(sealer.unseal(sealer.seal(plain))).toBe(plain);
    }
  });

  it("produces the s1 shape, different every time", () => {
    const a = sealer.seal(PLAIN);
    const b = sealer.seal(PLAIN);
    expect(a).toMatch(/^s1\.[\w-]{16}\.[\w-]{22}\.[\w-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(PLAIN);
    expect(SealedSchema.safeParse("s1.short.x.y").success).toBe(false);
  });

  it("refuses a tampered value with a SealError that does not leak the plaintext", () => {
    const error = thrown(() => sealer.unseal(tamper(sealer.seal(PLAIN))));
    expect(error).toBeInstanceOf(SealError);
    expect(String(error)).not.toContain(PLAIN);
  });

  it("refuses the wrong key with a SealError that leaks neither plaintext nor key", () => {
    const sealed = sealer.seal(PLAIN);
    const wrong = deriveKey("another secret");
    const error = thrown(() => new Sealer(wrong).unseal(sealed));
    expect(error).toBeInstanceOf(SealError);
    expect(String(error)).not.toContain(PLAIN);
    expect(String(error)).not.toContain(wrong.toString("base64url"));
    expect(String(error)).not.toContain(sealed);
  });

  it("derives a stable 32-byte key", () => {
    expect(deriveKey("s")).toHaveLength(32);
    expect(deriveKey("s").equals(deriveKey("s"))).toBe(true);
    expect(deriveKey("s").equals(deriveKey("t"))).toBe(false);
  });
});

describe("loadOrCreateSecretFile", () => {
  it("creates a 0600 secret in a 0700 directory, then reuses it", () => {
    const path = join(dir, "new", "seal.key");
    const secret = loadOrCreateSecretFile(path);
    expect(Buffer.from(secret, "base64url")).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "new")).mode & 0o777).toBe(0o700);
    expect(loadOrCreateSecretFile(path)).toBe(secret);
  });

  it("narrows a group/world-readable file to 0600 and keeps its secret", () => {
    const path = join(dir, "loose.key");
    writeFileSync(path, "existing-secret\n");
    chmodSync(path, 0o644);
    expect(loadOrCreateSecretFile(path)).toBe("existing-secret");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8")).toBe("existing-secret\n");
  });
});
