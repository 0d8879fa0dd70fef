/**
 * How other servers see the Mastodon stand-in's local accounts:
 *
 *   GET /.well-known/webfinger?resource=acct:user@DOMAIN | actor URL    WellKnown::WebfingerController
 *   GET /users/:username              actor (Accept: activity+json/ld+json/json), else 301 → /@user
 *   GET /@:username                   HTML profile, or the actor for JSON
 *   GET /users/:username/followers    OrderedCollection (+ ?page=N, 12 a page), as
 *   GET /users/:username/following    Follower/FollowingAccountsController serve them
 *
 * Every id is https://DOMAIN/… (the store's publicBase), so tests map domains to sandbox
 * origins with `originOf`.
 */

import { generateKeyPairSync } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { escapeHtml } from "./html.js";
import { html, JSON_TYPE, type Reply, redirect, wantsJson } from "./mastodon-http.js";
import { MASTODON_404_HTML } from "./mastodon-pages.js";
import type { AccountRow } from "./mastodon-rows.js";
import type { SignatureVerifier } from "./mastodon-signatures.js";
import type { Store } from "./mastodon-store.js";

/** FollowerAccountsController::FOLLOW_PER_PAGE */
const FOLLOW_PER_PAGE = 12;
const AP_TYPE = "application/activity+json; charset=utf-8";

export class ActivityPubRoutes {
  private readonly keys = new Map<string, string>();

  /** Secure mode: set, actors and collections are served as JSON to signed requests only. */
  secure: SignatureVerifier | undefined;

  constructor(private readonly store: Store) {}

  private publicKeyPem(a: AccountRow): string {
    let pem = this.keys.get(a.id);
    if (!pem) {
      pem = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      }).publicKey;
      this.keys.set(a.id, pem);
    }
    return pem;
  }

  /** ActivityPub::ActorSerializer for a local account. */
  serializeActor(a: AccountRow): Record<string, unknown> {
    const store = this.store;
    const id = store.uriOf(a);
    const v42 = store.atLeast(4, 2);
    const extensions: Record<string, unknown> = {
      manuallyApprovesFollowers: "as:manuallyApprovesFollowers",
      toot: "http://joinmastodon.org/ns#",
      featured: { "@id": "toot:featured", "@type": "@id" },
      featuredTags: { "@id": "toot:featuredTags", "@type": "@id" },
      alsoKnownAs: { "@id": "as:alsoKnownAs", "@type": "@id" },
      movedTo: { "@id": "as:movedTo", "@type": "@id" },
      schema: "http://schema.org#",
      PropertyValue: "schema:PropertyValue",
      value: "schema:value",
      discoverable: "toot:discoverable",
      suspended: "toot:suspended",
      ...(v42 ? { memorial: "toot:memorial", indexable: "toot:indexable" } : {}),
    };
    const moved = a.movedToAccountId ? store.accounts.get(a.movedToAccountId) : undefined;
    const d = a.createdAt;
    const published = new Date(
      Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()),
    ).toISOString();
    return {
      "@context": [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        extensions,
      ],
      id,
      type: a.bot ? "Service" : "Person",
      following: `${id}/following`,
      followers: `${id}/followers`,
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      featured: `${id}/collections/featured`,
      featuredTags: `${id}/collections/tags`,
      preferredUsername: a.username,
      name: a.displayName || a.username,
      summary: a.note,
      url: store.profileUrlOf(a),
      manuallyApprovesFollowers: a.locked,
      discoverable: a.discoverable ?? false,
      ...(v42 ? { indexable: a.indexable } : {}),
      published: published.replace(/\.000Z$/, "Z"),
      ...(v42 ? { memorial: false } : {}),
      ...(moved ? { movedTo: store.uriOf(moved) } : {}),
      ...(a.alsoKnownAs.length > 0 ? { alsoKnownAs: [...a.alsoKnownAs] } : {}),
      publicKey: { id: `${id}#main-key`, owner: id, publicKeyPem: this.publicKeyPem(a) },
      tag: [],
      attachment: [],
      endpoints: { sharedInbox: `${store.publicBase}/inbox` },
    };
  }

  /** WebfingerSerializer */
  serializeJrd(a: AccountRow): Record<string, unknown> {
    const store = this.store;
    const profile = store.profileUrlOf(a);
    const self = store.uriOf(a);
    return {
      subject: `acct:${a.username}@${store.domain}`,
      aliases: [profile, self],
      links: [
        { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: profile },
        { rel: "self", type: "application/activity+json", href: self },
        {
          rel: "http://ostatus.org/schema/1.0/subscribe",
          template: `${store.publicBase}/authorize_interaction?uri={uri}`,
        },
      ],
    };
  }

  /** The federation routes (GET only); null when the path is not one of them. */
  route(req: IncomingMessage, path: string, query: URLSearchParams): Reply | Promise<Reply> | null {
    const open = this.routeOpen(req, path, query);
    if (!open || !this.secure || !wantsActivityJson(req) || open.status === 404) return open;
    // WebFinger (and HTML) stay open; an actor or a collection as JSON needs a signature. The
    // account is looked up first (set_account runs before require_account_signature!).
    if (path === "/.well-known/webfinger") return open;
    return this.secure.verify(req, Buffer.alloc(0)).then((v) =>
      v.ok
        ? {
            ...open,
            headers: { ...open.headers, Vary: "Accept, Accept-Language, Cookie, Signature" },
          }
        : {
            status: 401,
            body: JSON.stringify({ error: v.error }),
            contentType: JSON_TYPE,
            headers: { Vary: "Accept, Accept-Language, Cookie, Signature" },
            api: false,
          },
    );
  }

  private routeOpen(req: IncomingMessage, path: string, query: URLSearchParams): Reply | null {
    if (path === "/.well-known/webfinger") return this.webfinger(query);
    const users = /^\/users\/([^/]+)(?:\/(followers|following))?$/.exec(path);
    if (users) {
      const username = decodeURIComponent(users[1]!);
      if (users[2]) {
        return this.collection(req, username, users[2] as "followers" | "following", query);
      }
      if (!wantsActivityJson(req)) {
        // get '/users/:username', to: redirect_with_vary('/@%{username}') for HTML
        return {
          ...redirect(`${this.store.publicBase}/@${username}`, {
            Vary: "Accept, Accept-Language, Cookie",
          }),
          status: 301,
        };
      }
      return this.actor(username);
    }
    const short = /^\/@([^/]+)$/.exec(path);
    if (short) {
      const username = decodeURIComponent(short[1]!);
      if (wantsActivityJson(req)) return this.actor(username);
      return this.profilePage(username);
    }
    return null;
  }

  private findLocal(username: string): AccountRow | undefined {
    if (username.includes("@")) return undefined;
    const row = this.store.findByAcct(username);
    return row?.domain === null ? row : undefined;
  }

  private webfinger(query: URLSearchParams): Reply {
    const head = (status: number): Reply => ({
      status,
      body: "",
      contentType: "text/html",
      headers: { "Cache-Control": "max-age=180, public" },
      api: false,
    });
    const resource = query.get("resource");
    if (resource === null || resource.trim() === "") return head(400);
    let username: string;
    if (/^https?/i.test(resource)) {
      let path: string;
      try {
        path = new URL(resource).pathname;
      } catch {
        return head(404);
      }
      const m = /^\/(?:users\/|@)([^/]+)\/?$/.exec(path);
      if (!m) return head(404);
      username = decodeURIComponent(m[1]!);
    } else if (resource.includes("@")) {
      const parts = resource.replace(/^acct:/, "").split("@");
      const domain = parts.at(-1) ?? "";
      if (!this.store.isLocalDomain(domain.toLowerCase())) return head(404);
      username = parts[0] ?? "";
    } else {
      return head(400);
    }
    const account = this.findLocal(username);
    if (!account) return head(404);
    return {
      status: 200,
      body: JSON.stringify(this.serializeJrd(account)),
      contentType: "application/jrd+json; charset=utf-8",
      headers: { "Cache-Control": "max-age=259200, public" },
      api: false,
    };
  }

  private actor(username: string): Reply {
    const account = this.findLocal(username);
    if (!account) return notFound(true);
    return {
      status: 200,
      body: JSON.stringify(this.serializeActor(account)),
      contentType: AP_TYPE,
      headers: { "Cache-Control": "max-age=180, public", Vary: "Accept, Accept-Language, Cookie" },
      api: false,
    };
  }

  private profilePage(username: string): Reply {
    const account = this.findLocal(username);
    if (!account) return notFound(false);
    const name = escapeHtml(account.displayName || account.username);
    const acct = escapeHtml(`@${account.username}@${this.store.domain}`);
    const moved = account.movedToAccountId
      ? this.store.accounts.get(account.movedToAccountId)
      : undefined;
    const movedNote = moved
      ? `<p class="moved">${name} has indicated that their new account is now <a href="${escapeHtml(this.store.profileUrlOf(moved))}">@${escapeHtml(this.store.acctOf(moved))}</a></p>\n`
      : "";
    return html(
      200,
      `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${name} (${acct}) - Mastodon</title>
<link href="${escapeHtml(this.store.uriOf(account))}" rel="alternate" type="application/activity+json">
</head>
<body>
<h1>${name}</h1>
<p>${acct}</p>
${movedNote}</body>
</html>
`,
      { Vary: "Accept, Accept-Language, Cookie" },
    );
  }

  /** Follower/FollowingAccountsController#index */
  private collection(
    req: IncomingMessage,
    username: string,
    kind: "followers" | "following",
    query: URLSearchParams,
  ): Reply {
    const account = this.findLocal(username);
    if (!account) return notFound(wantsActivityJson(req));
    if (!wantsActivityJson(req)) return this.profilePage(username);
    const id = `${this.store.uriOf(account)}/${kind}`;
    const rows = kind === "followers" ? account.followers : account.following;
    const total = rows.length;
    const pageRaw = query.get("page");
    const ap = (body: Record<string, unknown>, maxAge: number): Reply => ({
      status: 200,
      body: JSON.stringify({ "@context": "https://www.w3.org/ns/activitystreams", ...body }),
      contentType: AP_TYPE,
      headers: { "Cache-Control": maxAge > 0 ? `max-age=${maxAge}, public` : "no-cache" },
      api: false,
    });
    const hidden = account.hideCollections === true;
    if (pageRaw === null || pageRaw.trim() === "") {
      // restrict_fields_to: a hidden collection shows only id, type and totalItems.
      return ap(
        hidden
          ? { id, type: "OrderedCollection", totalItems: total }
          : { id, type: "OrderedCollection", totalItems: total, first: `${id}?page=1` },
        180,
      );
    }
    if (hidden) {
      return {
        status: 403,
        body: JSON.stringify({ error: "Forbidden" }),
        contentType: JSON_TYPE,
        api: false,
      };
    }
    // Kaminari: page.to_i, at least 1; `recent` = newest follow first.
    const page = Math.max(1, Number.parseInt(pageRaw, 10) || 1);
    const totalPages = Math.ceil(total / FOLLOW_PER_PAGE);
    const newestFirst = [...rows].reverse();
    const slice = newestFirst.slice((page - 1) * FOLLOW_PER_PAGE, page * FOLLOW_PER_PAGE);
    const outOfRange = page > totalPages;
    const items = slice.map((f) =>
      this.store.uriOf(
        this.store.accounts.get(kind === "followers" ? f.accountId : f.targetAccountId)!,
      ),
    );
    return ap(
      {
        id: `${id}?page=${pageRaw}`,
        type: "OrderedCollectionPage",
        totalItems: total,
        ...(!outOfRange && page < totalPages ? { next: `${id}?page=${page + 1}` } : {}),
        ...(!outOfRange && page > 1 ? { prev: `${id}?page=${page - 1}` } : {}),
        partOf: id,
        orderedItems: items,
      },
      0,
    );
  }
}

/** Rails' format negotiation as Mastodon registers the ActivityPub types (all :json). */
export function wantsActivityJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return /application\/(activity\+json|ld\+json)/i.test(accept) || wantsJson(req);
}

/** ApplicationController#not_found → respond_with_error(404). */
function notFound(json: boolean): Reply {
  if (json) {
    return {
      status: 404,
      body: JSON.stringify({ error: "Not Found" }),
      contentType: JSON_TYPE,
      api: false,
    };
  }
  return html(404, MASTODON_404_HTML);
}
