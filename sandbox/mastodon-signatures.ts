/**
 * Secure mode (AUTHORIZED_FETCH=true) for the Mastodon stand-in: the HTTP Signature check
 * that `require_account_signature!` runs before an actor or a followers/following collection
 * is served as JSON (app/controllers/accounts_controller.rb, follower_accounts_controller.rb,
 * following_accounts_controller.rb: `before_action :require_account_signature!, if: ->
 * { request.format == :json && authorized_fetch_mode? }`).
 *
 * The check follows app/controllers/concerns/signature_verification.rb and app/lib/
 * signed_request.rb (draft-cavage): keyId and signature required; algorithm rsa-sha256 or
 * hs2019; the Date within its window (created + 5 minutes, with an hour of clock skew either
 * way); `date` and `(request-target)` signed, and `host` on a GET; a signed `digest` must
 * match the body; the key is fetched from its keyId (the actor document that holds it,
 * FetchRemoteKeyService; a new actor must have a supported type, a preferredUsername and an
 * inbox, and its WebFinger must loop back to it: FetchRemoteActorService#check_webfinger!,
 * ProcessAccountService) and the signing string checked with RSA-SHA256, with the query
 * string and then, for older senders, without it. A failure is 401 with `{"error": reason}`
 * (`fail_with!`). Keys are cached per keyId and fetched again once when a signature fails
 * (`actor_refresh_key!`), as Mastodon refreshes a possibly stale key.
 */

import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import type { OriginOf } from "./mastodon-resolve.js";

/** SignedRequest::EXPIRATION_WINDOW_LIMIT is 12 h; without `(expires)`, a Date is good for 5 minutes. */
const DEFAULT_EXPIRY_MS = 5 * 60_000;
/** SignatureVerification::CLOCK_SKEW_MARGIN */
const CLOCK_SKEW_MS = 60 * 60_000;
const FETCH_TIMEOUT_MS = 5_000;
const AP_ACCEPT =
  'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"';

export type Verdict = { ok: true; actor: string } | { ok: false; error: string };

/** ActivityPub::FetchRemoteActorService::SUPPORTED_TYPES */
const ACTOR_TYPES = new Set(["Application", "Group", "Organization", "Person", "Service"]);

const JrdSchema = z.object({
  subject: z.string(),
  links: z.array(z.object({ rel: z.string(), href: z.string().optional() })).default([]),
});

const KeyOwnerSchema = z.object({
  id: z.string(),
  type: z.string().optional(),
  preferredUsername: z.string().optional(),
  inbox: z.string().optional(),
  publicKey: z
    .union([
      z.object({ id: z.string(), owner: z.string().optional(), publicKeyPem: z.string() }),
      z.array(z.object({ id: z.string(), owner: z.string().optional(), publicKeyPem: z.string() })),
    ])
    .optional(),
  // A key document fetched on its own (keyId without a fragment, as GoToSocial's).
  owner: z.string().optional(),
  publicKeyPem: z.string().optional(),
});

/** SignatureVerification#signature_params: `name="value"` pairs, comma-separated. */
export function signatureParams(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of header.matchAll(/([a-zA-Z]+)="([^"]*)"/g)) params[m[1]!] = m[2]!;
  return params;
}

export class SignatureVerifier {
  private readonly keys = new Map<string, { owner: string; key: KeyObject }>();

  constructor(
    private readonly originOf: OriginOf,
    private readonly clock: () => number,
  ) {}

  /** require_account_signature!: who signed this request, or why it is refused. */
  async verify(req: IncomingMessage, body: Buffer): Promise<Verdict> {
    const header = req.headers.signature;
    if (typeof header !== "string" || header.trim() === "") {
      return { ok: false, error: "Request not signed" };
    }
    const params = signatureParams(header);
    const keyId = params.keyId;
    const signature = params.signature;
    if (!keyId || !signature) {
      return {
        ok: false,
        error: "Incompatible request signature. keyId and signature are required",
      };
    }
    const algorithm = params.algorithm || "hs2019";
    if (algorithm !== "rsa-sha256" && algorithm !== "hs2019") {
      return {
        ok: false,
        error: "Unsupported signature algorithm (only rsa-sha256 and hs2019 are supported)",
      };
    }
    if (!this.inTimeWindow(req)) {
      return { ok: false, error: "Signed request date outside acceptable time window" };
    }
    const signed = (params.headers || "date").toLowerCase().split(/\s+/).filter(Boolean);
    const weak = strengthProblem(req.method ?? "GET", signed);
    if (weak) return { ok: false, error: weak };
    if (signed.includes("digest")) {
      const problem = digestProblem(req, body);
      if (problem) return { ok: false, error: problem };
    }
    let entry = this.keys.get(keyId) ?? (await this.fetchKey(keyId));
    if (!entry) return { ok: false, error: `Public key not found for key ${keyId}` };
    const bytes = Buffer.from(signature, "base64");
    const check = (key: KeyObject) =>
      [true, false].some((withQuery) =>
        verify("sha256", Buffer.from(signingString(req, signed, withQuery)), key, bytes),
      );
    if (check(entry.key)) return { ok: true, actor: entry.owner };
    // actor_refresh_key!: the key may have changed since it was cached.
    const fresh = await this.fetchKey(keyId);
    if (fresh) entry = fresh;
    if (fresh && check(fresh.key)) return { ok: true, actor: fresh.owner };
    return {
      ok: false,
      error: `Verification failed for ${entry.owner} using rsa-sha256 (RSASSA-PKCS1-v1_5 with SHA-256)`,
    };
  }

  /** SignedRequest#matches_time_window? with the Date header as the creation time. */
  private inTimeWindow(req: IncomingMessage): boolean {
    const date = req.headers.date;
    if (date === undefined) return true;
    const created = Date.parse(date);
    if (Number.isNaN(created)) return false;
    const now = this.clock();
    if (created > now + CLOCK_SKEW_MS) return false;
    return now <= created + DEFAULT_EXPIRY_MS + CLOCK_SKEW_MS;
  }

  /** ActivityPub::FetchRemoteKeyService: the keyId's document, the key in it, owned by an actor. */
  private async fetchKey(keyId: string): Promise<{ owner: string; key: KeyObject } | undefined> {
    const url = this.mapped(keyId);
    if (!url) return undefined;
    const doc = KeyOwnerSchema.safeParse(await this.fetchJson(url, AP_ACCEPT));
    if (!doc.success) return undefined;
    const keys = [doc.data.publicKey ?? []].flat();
    const found =
      keys.find((k) => k.id === keyId) ??
      (doc.data.id === keyId && doc.data.publicKeyPem && doc.data.owner
        ? { id: keyId, owner: doc.data.owner, publicKeyPem: doc.data.publicKeyPem }
        : undefined);
    if (!found) return undefined;
    // The key must belong to the actor that serves it (`owner` is that actor's id).
    const owner = found.owner ?? doc.data.id;
    if (keys.length > 0 && owner !== doc.data.id) return undefined;
    if (keys.length > 0 && !(await this.isAccount(doc.data))) return undefined;
    try {
      const entry = { owner, key: createPublicKey(found.publicKeyPem) };
      this.keys.set(keyId, entry);
      return entry;
    } catch {
      return undefined;
    }
  }

  /**
   * What Mastodon needs to make an account of an actor: a supported type, a preferredUsername,
   * an inbox (ProcessAccountService returns without one), and WebFinger for
   * preferredUsername@host whose `self` link is the actor (check_webfinger!). The host keeps its
   * port here (Mastodon uses normalized_host, without it): the stand-ins all live on loopback ports.
   */
  private async isAccount(actor: z.infer<typeof KeyOwnerSchema>): Promise<boolean> {
    if (!actor.type || !ACTOR_TYPES.has(actor.type) || !actor.preferredUsername || !actor.inbox) {
      return false;
    }
    let host: string;
    try {
      host = new URL(actor.id).host;
    } catch {
      return false;
    }
    const acct = `${actor.preferredUsername}@${host}`;
    const url = this.mapped(`https://${host}/.well-known/webfinger?resource=acct:${acct}`);
    const jrd = url ? JrdSchema.safeParse(await this.fetchJson(url, "application/jrd+json")) : null;
    if (!jrd?.success) return false;
    if (jrd.data.subject.replace(/^acct:/, "").toLowerCase() !== acct.toLowerCase()) return false;
    return jrd.data.links.some((l) => l.rel === "self" && l.href === actor.id);
  }

  private async fetchJson(url: string, accept: string): Promise<unknown> {
    try {
      const res = await fetch(url, {
        headers: { Accept: accept },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      return res.ok ? await res.json() : undefined;
    } catch {
      return undefined;
    }
  }

  private mapped(uri: string): string | undefined {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      return undefined;
    }
    const origin = this.originOf(u.host);
    return origin ? `${origin.replace(/\/+$/, "")}${u.pathname}${u.search}` : undefined;
  }
}

/** HttpSignatureDraft#verify_signature_strength! */
function strengthProblem(method: string, signed: readonly string[]): string | undefined {
  if (!signed.includes("date") && !signed.includes("(created)")) {
    return "Mastodon requires the Date header or (created) pseudo-header to be signed";
  }
  if (!signed.includes("(request-target)") && !signed.includes("digest")) {
    return "Mastodon requires the Digest header or (request-target) pseudo-header to be signed";
  }
  if (method === "GET" && !signed.includes("host")) {
    return "Mastodon requires the Host header to be signed when doing a GET request";
  }
  if (method === "POST" && !signed.includes("digest")) {
    return "Mastodon requires the Digest header to be signed when doing a POST request";
  }
  return undefined;
}

/** HttpSignatureDraft#verify_body_digest!: only SHA-256 is checked. */
function digestProblem(req: IncomingMessage, body: Buffer): string | undefined {
  const header = req.headers.digest;
  if (typeof header !== "string") return "Digest header missing";
  const digests = header.split(",").map((part) => {
    const at = part.indexOf("=");
    return [part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim()] as const;
  });
  const sha256 = digests.find(([name]) => name === "sha-256");
  if (!sha256) {
    return `Mastodon only supports SHA-256 in Digest header. Offered algorithms: ${digests.map(([n]) => n).join(", ")}`;
  }
  const computed = createHash("sha256").update(body).digest("base64");
  if (sha256[1] !== computed) {
    return `Invalid Digest value. Computed SHA-256 digest: ${computed}; given: ${sha256[1]}`;
  }
  return undefined;
}

/** HttpSignatureDraft#signed_string: each signed header as `name: value`, joined by newlines. */
function signingString(req: IncomingMessage, signed: readonly string[], withQuery: boolean) {
  const raw = req.url ?? "/";
  const path = withQuery ? raw : raw.replace(/\?.*$/, "");
  return signed
    .map((name) => {
      if (name === "(request-target)") {
        return `(request-target): ${(req.method ?? "GET").toLowerCase()} ${path}`;
      }
      const value = req.headers[name];
      return `${name}: ${Array.isArray(value) ? value.join(", ") : (value ?? "")}`;
    })
    .join("\n");
}
