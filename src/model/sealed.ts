/**
 * The shape of a secret sealed at rest (store/seal.ts makes and opens them), so
 * the journey's data can hold one without knowing how sealing works:
 * `s1.<iv>.<tag>.<ciphertext>`, base64url; a 12-byte iv is 16 characters, a
 * 16-byte tag 22, then the ciphertext (maybe empty).
 */
import { z } from "zod";

export const SealedSchema = z
  .string()
  .regex(/^s1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]*$/, "not a sealed value")
  .brand<"Sealed">();
export type Sealed = z.infer<typeof SealedSchema>;
