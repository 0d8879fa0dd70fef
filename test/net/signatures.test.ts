/**
 * Signed requests through the one HTTP door: `sign` adds Date, Signature (and Digest with a
 * body) that a server can verify with the signer's public key, made anew for every hop.
 */
import { createHash, generateKeyPairSync, verify } from "node:crypto";
import type http from "node:http";
import { describe, expect, it } from "vitest";
import { client, serve } from "./serve.js";

const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signer = { keyId: "https://bot.example/actor#main-key", privateKey };

interface Seen {
  path: string;
  params: Record<string, string>;
  verified: boolean;
  digest?: string;
  body: string;
}

/** What a verifying server sees: the signature's params and whether it verifies. */
function check(req: http.IncomingMessage, body: string): Seen {
  const params: Record<string, string> = {};
  for (const m of String(req.headers.signature ?? "").matchAll(/(\w+)="([^"]*)"/g))
    params[m[1]!] = m[2]!;
  const text = (params.headers ?? "")
    .split(" ")
    .map((h) =>
      h === "(request-target)"
        ? `(request-target): ${req.method!.toLowerCase()} ${req.url}`
        : `${h}: ${req.headers[h]}`,
    )
    .join("\n");
  const verified =
    params.signature !== undefined &&
    verify("sha256", Buffer.from(text), publicKey, Buffer.from(params.signature, "base64"));
  return {
    path: req.url!,
    params,
    verified,
    ...(req.headers.digest ? { digest: String(req.headers.digest) } : {}),
    body,
  };
}

async function verifyingServer(onPath: (path: string, res: http.ServerResponse) => boolean) {
  const seen: Seen[] = [];
  const url = await serve((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push(check(req, body));
      if (onPath(req.url!, res)) return;
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  return { url, seen };
}

describe("signed requests", () => {
  it("sign a GET over (request-target) host date with rsa-sha256, verifiable with the public key", async () => {
    const { url, seen } = await verifyingServer(() => false);
    const { http } = client();
    await http.request(`${url}/users/ada?page=1`, { sign: signer });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.verified).toBe(true);
    expect(seen[0]!.params).toMatchObject({
      keyId: signer.keyId,
      algorithm: "rsa-sha256",
      headers: "(request-target) host date",
    });
    expect(seen[0]!.digest).toBeUndefined();
  });

  it("sign a body's SHA-256 Digest too", async () => {
    const { url, seen } = await verifyingServer(() => false);
    const { http } = client();
    await http.request(`${url}/inbox`, {
      method: "POST",
      json: { type: "Follow" },
      idempotent: true,
      sign: signer,
    });
    const s = seen[0]!;
    expect(s.verified).toBe(true);
    expect(s.params.headers).toBe("(request-target) host date digest");
    expect(s.digest).toBe(`SHA-256=${createHash("sha256").update(s.body).digest("base64")}`);
  });

  it("sign each hop of a redirect for its own path", async () => {
    const { url, seen } = await verifyingServer((path, res) => {
      if (path !== "/users/ada") return false;
      res.writeHead(301, { location: "/users/ada.json" }).end();
      return true;
    });
    const { http } = client();
    await http.request(`${url}/users/ada`, { sign: signer });
    expect(seen.map((s) => [s.path, s.verified])).toEqual([
      ["/users/ada", true],
      ["/users/ada.json", true],
    ]);
  });

  it("aren't signed unless asked", async () => {
    const { url, seen } = await verifyingServer(() => false);
    const { http } = client();
    await http.request(`${url}/users/ada`);
    expect(seen[0]!.params).toEqual({});
  });
});
