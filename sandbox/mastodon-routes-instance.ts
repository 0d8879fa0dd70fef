/**
 * What the Mastodon stand-in says about itself:
 *
 *   GET /api/v1/instance        REST::V1::InstanceSerializer
 *   GET /api/v2/instance        REST::InstanceSerializer (4.0+)
 *   GET /.well-known/nodeinfo   → /nodeinfo/2.0, software "mastodon" and the version, empty metadata
 *
 * Version-gated keys as upstream added them; the limits are Mastodon's defaults.
 */

import type { MastodonContext } from "./mastodon-context.js";
import { apiJson, plainJson, type Reply } from "./mastodon-http.js";
import { VAPID_PUBLIC_KEY } from "./mastodon-oauth-apps.js";
import type { Store } from "./mastodon-store.js";

const SUPPORTED_MIME_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"];
/** MediaAttachment's size and matrix limits (v2 adds description_limit before them). */
const MEDIA_LIMITS = {
  image_size_limit: 16777216,
  image_matrix_limit: 33177600,
  video_size_limit: 103809024,
  video_frame_rate_limit: 120,
  video_matrix_limit: 8294400,
};
const POLLS = {
  max_options: 4,
  max_characters_per_option: 50,
  min_expiration: 300,
  max_expiration: 2629746,
};

const statuses = (maxCharacters: number) => ({
  max_characters: maxCharacters,
  max_media_attachments: 4,
  characters_reserved_per_url: 23,
});

/** STREAMING_API_BASE_URL: the stand-in streams on its own port (wss:// once it has a domain). */
const streamingUrl = (store: Store) => store.publicBase.replace(/^http/, "ws");

const localUsers = (store: Store) =>
  [...store.accounts.values()].filter((a) => a.domain === null).length;

const contactEmail = (domain: string) => `admin@${domain.replace(/:\d+$/, "")}`;

function instanceV1(ctx: MastodonContext) {
  const { store, domain } = ctx;
  return {
    uri: domain,
    title: "Mastodon",
    short_description: "",
    description: "",
    email: contactEmail(domain),
    version: ctx.version,
    urls: { streaming_api: streamingUrl(store) },
    stats: {
      user_count: localUsers(store),
      status_count: 0,
      domain_count: new Set([...store.accounts.values()].map((a) => a.domain).filter(Boolean)).size,
    },
    thumbnail: `${store.publicBase}/packs/media/images/preview.png`,
    languages: ["en"],
    registrations: false,
    approval_required: false,
    invites_enabled: false,
    configuration: {
      accounts: { max_featured_tags: 10 },
      statuses: statuses(ctx.maxCharacters),
      media_attachments: { supported_mime_types: SUPPORTED_MIME_TYPES, ...MEDIA_LIMITS },
      polls: POLLS,
    },
    contact_account: null,
    rules: [],
  };
}

function instanceV2(ctx: MastodonContext) {
  const { store, domain } = ctx;
  return {
    domain,
    title: "Mastodon",
    version: ctx.version,
    source_url: "https://github.com/mastodon/mastodon",
    description: "",
    usage: { users: { active_month: localUsers(store) } },
    thumbnail: { url: `${store.publicBase}/packs/media/images/preview.png` },
    ...(store.atLeast(4, 3) ? { icon: [] } : {}),
    languages: ["en"],
    configuration: {
      urls: { streaming: streamingUrl(store), status: null },
      vapid: { public_key: VAPID_PUBLIC_KEY },
      accounts: { max_featured_tags: 10, max_pinned_statuses: 5 },
      statuses: statuses(ctx.maxCharacters),
      media_attachments: {
        supported_mime_types: SUPPORTED_MIME_TYPES,
        description_limit: 1500,
        ...MEDIA_LIMITS,
      },
      polls: POLLS,
      translation: { enabled: false },
    },
    registrations: { enabled: false, approval_required: false, message: null, url: null },
    ...(store.atLeast(4, 3) ? { api_versions: { mastodon: 2 } } : {}),
    contact: { email: contactEmail(domain), account: null },
    rules: [],
  };
}

/** The instance and NodeInfo routes (GET); null when the path is not one of them. */
export function instanceRoute(ctx: MastodonContext, path: string, host: string): Reply | null {
  if (path === "/api/v1/instance") return apiJson(200, instanceV1(ctx));
  if (path === "/api/v2/instance" && ctx.store.atLeast(4, 0)) {
    return apiJson(200, instanceV2(ctx));
  }
  if (path === "/.well-known/nodeinfo") {
    return plainJson(200, {
      links: [
        {
          rel: "http://nodeinfo.diaspora.software/ns/schema/2.0",
          href: `http://${host}/nodeinfo/2.0`,
        },
      ],
    });
  }
  if (path === "/nodeinfo/2.0") {
    const users = localUsers(ctx.store);
    return plainJson(200, {
      version: "2.0",
      software: { name: "mastodon", version: ctx.version },
      protocols: ["activitypub"],
      services: { outbound: [], inbound: [] },
      usage: {
        users: { total: users, activeMonth: users, activeHalfyear: users },
        localPosts: 0,
      },
      openRegistrations: false,
      // NodeInfo::Serializer#metadata is `{}` upstream (app/serializers/nodeinfo/serializer.rb):
      // nothing there says whether the server follows a Move, or anything else.
      metadata: {},
    });
  }
  return null;
}
