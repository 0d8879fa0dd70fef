/**
 * HTTP Signatures the way the Fediverse signs a request (draft-cavage-http-signatures, as
 * Mastodon's app/lib/request.rb and GoToSocial do): `rsa-sha256` over `(request-target) host
 * date`, plus `digest` (SHA-256 of the body) when there is a body. Servers in secure mode
 * (AUTHORIZED_FETCH) serve actors and collections only to signed requests. The primitive is
 * node:crypto's RSA-SHA256; only the signing string is built here.
 *
 * A request is signed per hop (http.ts): a redirect gets a new signature for its own
 * path and host, and a fresh Date.
 */
import { createHash, type KeyObject, sign } from "node:crypto";

/** Who signs: the key's id (the actor URL with `#main-key`) and its private key. */
export interface RequestSigner {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

/** The headers a signed request carries, in lower case: date, digest (with a body), signature. */
export function signatureHeaders(
  signer: RequestSigner,
  request: { method: string; url: URL; body?: string | Uint8Array },
  now: number = Date.now(),
): Record<string, string> {
  const date = new Date(now).toUTCString();
  const headers: Record<string, string> = { date };
  const lines = [
    `(request-target): ${request.method.toLowerCase()} ${request.url.pathname}${request.url.search}`,
    `host: ${request.url.host}`,
    `date: ${date}`,
  ];
  const names = ["(request-target)", "host", "date"];
  if (request.body !== undefined) {
    headers.digest = `SHA-256=${createHash("sha256").update(request.body).digest("base64")}`;
    lines.push(`digest: ${headers.digest}`);
    names.push("digest");
  }
  const signature = sign("sha256", Buffer.from(lines.join("\n")), signer.privateKey).toString(
    "base64",
  );
  headers.signature = `keyId="${signer.keyId}",algorithm="rsa-sha256",headers="${names.join(" ")}",signature="${signature}"`;
  return headers;
}
