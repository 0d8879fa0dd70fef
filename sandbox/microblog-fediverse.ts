/**
 * The Fediverse side of a micro.blog account in the stand-in:
 *
 *   GET /.well-known/webfinger?resource=acct:name@host | actor URL   JRD for a user's Fediverse
 *       username (on micro.blog's domain or the blog's own; a former one only with
 *       formerHandlesAnswer): profile-page and self links to the actor, the ostatus subscribe
 *       template, no aliases; unknown → 404 JSON. micro.blog serves a blog's own domain too, so
 *       the stand-in answers for every host it is reached as.
 *   GET /activitypub/:user    Person, by micro.blog username: id on the Fediverse username's
 *       host, preferredUsername its name; inbox, outbox, followers, following and the shared
 *       inbox on micro.blog's origin; alsoKnownAs only when aliases exist; never
 *       manuallyApprovesFollowers, discoverable or movedTo) for Accept: activity+json or
 *       ld+json, an HTML page for any other Accept
 *   GET /.well-known/nodeinfo → /nodeinfo/2.0, software name "micro.blog" (unconfirmed)
 */

import type { IncomingMessage } from "node:http";
import { escapeHtml } from "./html.js";
import type { Reply } from "./http-pipeline.js";
import { json, type MicroblogState, notFoundPage, type User } from "./microblog-state.js";

const AS_TYPE = "application/activity+json; charset=utf-8";
const HTML_TYPE = "text/html; charset=utf-8";
const AS_CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"];

function wantsActivityJson(req: IncomingMessage): boolean {
  return /application\/(activity\+json|ld\+json)/i.test(req.headers.accept ?? "");
}

function webfinger(state: MicroblogState, query: URLSearchParams): Reply {
  const resource = query.get("resource");
  if (!resource) return json(400, { error: "Missing resource parameter." });
  const acct = /^acct:([^@]+@.+)$/i.exec(resource)?.[1];
  let user: User | undefined;
  let subject: string | undefined;
  if (acct) {
    user = state.userByHandle(acct);
    subject = acct.toLowerCase();
  } else {
    const path = /^https?:\/\/[^/]+\/activitypub\/([^/]+)$/.exec(resource);
    const byActor = path ? state.users.get(path[1]!.toLowerCase()) : undefined;
    if (byActor && state.actorOf(byActor) === resource) {
      user = byActor;
      subject = byActor.fediverse;
    }
  }
  if (!user || !subject) return json(404, { error: "Not found." });
  const actor = state.actorOf(user);
  return json(
    200,
    {
      subject: `acct:${subject}`,
      links: [
        { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: actor },
        { rel: "self", type: "application/activity+json", href: actor },
        {
          rel: "http://ostatus.org/schema/1.0/subscribe",
          template: `${state.base}/mastodon/follow?url={uri}`,
        },
      ],
    },
    "application/jrd+json; charset=utf-8",
  );
}

function actor(state: MicroblogState, req: IncomingMessage, user: User): Reply {
  const { base } = state;
  const id = state.actorOf(user);
  // The collections live on micro.blog itself, whichever host the actor is named on.
  const home = `${base}/activitypub/${user.username}`;
  const blog = state.blogOf(user);
  if (!wantsActivityJson(req)) {
    return {
      status: 200,
      body: `<!DOCTYPE html>\n<html><head><title>${escapeHtml(user.name)}</title></head><body><h1>${escapeHtml(user.name)}</h1><p><a href="${blog}">${blog}</a></p></body></html>\n`,
      contentType: HTML_TYPE,
    };
  }
  const publicKeyPem = state.publicKey();
  const avatar = {
    type: "Image",
    mediaType: "image/jpeg",
    url: `${base}/${user.username}/avatar.jpg`,
  };
  return json(
    200,
    {
      "@context": AS_CONTEXT,
      id,
      url: id,
      type: "Person",
      preferredUsername: user.fediverse.slice(0, user.fediverse.indexOf("@")),
      name: user.name,
      summary: "",
      inbox: `${home}/inbox`,
      outbox: `${home}/outbox`,
      followers: `${home}/followers`,
      following: `${home}/following`,
      endpoints: { sharedInbox: `${base}/activitypub/shared/inbox` },
      publicKey: { id: `${id}#key`, owner: id, publicKeyPem },
      icon: avatar,
      image: avatar,
      ...(user.aliases.length > 0 ? { alsoKnownAs: [...user.aliases] } : {}),
      attachment: [
        {
          type: "PropertyValue",
          name: "Blog",
          value: `<a href="${blog}">${blog.replace(/^https:\/\/|\/$/g, "")}</a>`,
        },
      ],
    },
    AS_TYPE,
  );
}

/** The Fediverse routes (GET); null when the path is not one of them. */
export function fediverseRoute(
  state: MicroblogState,
  req: IncomingMessage,
  path: string,
  query: URLSearchParams,
): Reply | null {
  if (path === "/.well-known/webfinger") return webfinger(state, query);
  if (path === "/.well-known/nodeinfo") {
    return json(200, {
      links: [
        {
          rel: "http://nodeinfo.diaspora.software/ns/schema/2.0",
          href: `${state.base}/nodeinfo/2.0`,
        },
      ],
    });
  }
  if (path === "/nodeinfo/2.0") {
    return json(200, {
      version: "2.0",
      software: { name: "micro.blog", version: "1.0" },
      protocols: ["activitypub"],
      services: { inbound: [], outbound: [] },
      openRegistrations: true,
      usage: { users: { total: state.users.size } },
      metadata: {},
    });
  }
  const ap = /^\/activitypub\/([^/]+)$/.exec(path);
  if (ap) {
    const user = state.users.get(ap[1]!.toLowerCase());
    return user ? actor(state, req, user) : notFoundPage();
  }
  return null;
}
