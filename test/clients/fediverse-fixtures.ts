/**
 * Two small Fediverse servers on 127.0.0.1 for the FediverseClient tests:
 * `old.example` answers like Mastodon, `micro.blog.example` like micro.blog
 * (reference/microblog.md §5). Anything else, `down.example` included, maps to a
 * port nobody listens on. Answers are set per path (query included, decoded).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { FediverseClient } from "../../src/clients/fediverse.js";
import { GuardedDispatcher } from "../../src/net/dispatcher.js";
import { Http } from "../../src/net/http.js";
import { Pacer } from "../../src/net/pacer.js";

export const OLD_ACTOR = "https://old.example/users/ada";
export const NEW_ACTOR = "https://micro.blog.example/activitypub/ada";
export const OLD_HANDLE = "@ada@old.example";
export const NEW_HANDLE = "ada@micro.blog.example";

export interface Answer {
  status?: number;
  type?: string;
  /** An object is sent as JSON; a string as it is. */
  body: unknown;
}

export class Fixture {
  readonly routes = new Map<string, Answer>();
  readonly seen: Array<{ path: string; accept: string | undefined }> = [];
  origin = "";
  readonly server = http.createServer((req, res) => {
    // Split by hand: `new URL("//x/y", base)` would read the path as another host.
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const path = q < 0 ? raw : `${raw.slice(0, q)}${decodeURIComponent(raw.slice(q))}`;
    this.seen.push({ path, accept: req.headers.accept });
    const answer = this.routes.get(path) ?? {
      status: 404,
      type: "application/json",
      body: { error: "Record not found" },
    };
    res.statusCode = answer.status ?? 200;
    res.setHeader(
      "content-type",
      answer.type ?? (typeof answer.body === "string" ? "text/plain" : "application/activity+json"),
    );
    res.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body));
  });

  set(path: string, body: unknown, opts: { status?: number; type?: string } = {}): this {
    this.routes.set(path, { body, ...opts });
    return this;
  }

  /** WebFinger for `user@host`, its self link pointing at `actor`. */
  webfinger(acct: string, actor: string, type = "application/activity+json"): this {
    return this.set(`/.well-known/webfinger?resource=acct:${acct}`, jrd(acct, actor, type), {
      type: "application/jrd+json",
    });
  }

  /** Serves `actor` at its own id's path. */
  actor(actor: { id: string } & Record<string, unknown>, at = actor.id): this {
    return this.set(new URL(at).pathname, actor);
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

export function jrd(acct: string, actor: string, type = "application/activity+json") {
  return {
    subject: `acct:${acct}`,
    links: [
      { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: actor },
      { rel: "self", type, href: actor },
      {
        rel: "http://ostatus.org/schema/1.0/subscribe",
        template: "https://micro.blog.example/mastodon/follow?url={uri}",
      },
    ],
  };
}

/** Mastodon's actor: locked (manuallyApprovesFollowers true), with `movedTo` when moved. */
export function mastodonActor(over: Record<string, unknown> = {}) {
  return {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
    id: OLD_ACTOR,
    type: "Person",
    following: `${OLD_ACTOR}/following`,
    followers: `${OLD_ACTOR}/followers`,
    inbox: `${OLD_ACTOR}/inbox`,
    outbox: `${OLD_ACTOR}/outbox`,
    preferredUsername: "ada",
    name: "Ada",
    manuallyApprovesFollowers: true,
    discoverable: true,
    url: "https://old.example/@ada",
    endpoints: { sharedInbox: "https://old.example/inbox" },
    ...over,
  };
}

/** micro.blog's actor as captured: no manuallyApprovesFollowers, aliases in alsoKnownAs. */
export function microblogActor(over: Record<string, unknown> = {}) {
  return {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
    id: NEW_ACTOR,
    url: NEW_ACTOR,
    type: "Person",
    preferredUsername: "ada",
    name: "Ada",
    inbox: `${NEW_ACTOR}/inbox`,
    outbox: `${NEW_ACTOR}/outbox`,
    followers: `${NEW_ACTOR}/followers`,
    following: `${NEW_ACTOR}/following`,
    endpoints: { sharedInbox: "https://micro.blog.example/activitypub/shared/inbox" },
    alsoKnownAs: [OLD_ACTOR],
    attachment: [
      { type: "PropertyValue", name: "Blog", value: '<a href="https://ada.example/">ada</a>' },
    ],
    ...over,
  };
}

/** A port that refuses connections: listened on, then closed. */
async function closedOrigin(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

export interface Fixtures {
  old: Fixture;
  micro: Fixture;
  client: FediverseClient;
  close(): Promise<void>;
}

/** Both servers with Ada's accounts in place: aliased, not moved yet. */
export async function startFixtures(): Promise<Fixtures> {
  const old = await new Fixture().listen();
  const micro = await new Fixture().listen();
  const down = await closedOrigin();
  old.webfinger("ada@old.example", OLD_ACTOR).actor(mastodonActor());
  micro.webfinger("ada@micro.blog.example", NEW_ACTOR).actor(microblogActor());
  const origins: Record<string, string> = {
    "old.example": old.origin,
    "micro.blog.example": micro.origin,
  };
  const http = new Http(new GuardedDispatcher(new Pacer(50), true), 2000, 20);
  const client = new FediverseClient(http, (host) => origins[host] ?? down);
  return {
    old,
    micro,
    client,
    async close() {
      await Promise.all([old.close(), micro.close()]);
    },
  };
}
