/**
 * The stand-in's controls for playing the people who write to a bot by direct message, and
 * for breaking its streaming on purpose. In-process they are members of the handle; for a
 * sandbox in another process they are /_sandbox endpoints (listed in mastodon.ts):
 *
 *   POST /_sandbox/statuses      {from, status, visibility?, inReplyToId?, spoilerText?} → Status
 *   GET  /_sandbox/mentioning?acct=…                → Status[] (what was posted to them, oldest first)
 *   POST /_sandbox/drop-streams                     → {dropped}
 *   POST /_sandbox/streaming     {available}
 *   GET  /_sandbox/streams                          → {connections}
 *   POST /_sandbox/status-limit  {limit, periodMs?} | null
 */

import { z } from "zod";
import { type ControlRoutes, jsonReply } from "./http-pipeline.js";
import type { MastodonContext } from "./mastodon-context.js";
import type { MastodonStatus } from "./mastodon-entities.js";
import type { Policy } from "./mastodon-notifications.js";
import { type StatusLimitConfig, StatusLimitSchema, VISIBILITIES } from "./mastodon-posting.js";
import { Acct } from "./mastodon-schemas.js";
import type { Streaming } from "./mastodon-streaming.js";

export const PostAsSchema = z.object({
  visibility: z.enum(VISIBILITIES).optional(),
  inReplyToId: z.string().optional(),
  spoilerText: z.string().optional(),
});
export type PostAsOptions = z.infer<typeof PostAsSchema>;

export interface DmControls {
  /** `from` (a local username or a known remote acct) posts a status, as their client would. */
  postAs(from: string, text: string, opts?: PostAsOptions): MastodonStatus;
  /** The statuses that mention `acct`, oldest first, as they see them. */
  mentioning(acct: string): MastodonStatus[];
  /** Cuts every streaming connection without a close frame; returns how many. */
  dropStreams(): number;
  /** false: the streaming server is down (upgrades get 502, open connections are cut). */
  setStreamingAvailable(available: boolean): void;
  /** Open streaming connections with a subscription. */
  streamConnections(): number;
  /** RateLimiter family :statuses. Default 300 per 3 h; null: unlimited (and no headers). */
  setStatusLimit(config: StatusLimitConfig | null): void;
  /** The account's 4.3 notification policy. */
  notificationPolicy(username: string): Policy;
}

export function dmControls(ctx: MastodonContext, streaming: Streaming): DmControls {
  const { store, posting } = ctx;
  return {
    postAs(from, text, opts = {}) {
      const author = store.findByAcct(Acct.parse(from));
      if (!author) throw new Error(`no account ${from}`);
      const o = PostAsSchema.parse(opts);
      const result = posting.post(author, {
        text,
        visibility: o.visibility,
        inReplyToId: o.inReplyToId ?? null,
        spoilerText: o.spoilerText,
      });
      if ("error" in result) throw new Error(`${result.status}: ${result.error}`);
      return posting.serialize(result, author);
    },
    mentioning(acct) {
      const account = store.findByAcct(Acct.parse(acct));
      return account ? posting.mentioning(account) : [];
    },
    dropStreams: () => streaming.dropAll(),
    setStreamingAvailable: (available) => streaming.setAvailable(available),
    streamConnections: () => streaming.connections,
    setStatusLimit: (config) => posting.setStatusLimit(config),
    notificationPolicy: (username) => ctx.notifications.policyOf(store.local(username)),
  };
}

const CONTROL = {
  post: PostAsSchema.extend({ from: Acct, status: z.string() }),
  streaming: z.object({ available: z.boolean() }),
};

/** The endpoints, each calling the member of the same name. */
export function dmControlRoutes(api: DmControls): ControlRoutes {
  return {
    get(path, query) {
      if (path === "/_sandbox/mentioning") {
        return jsonReply(200, api.mentioning(query.get("acct") ?? ""));
      }
      if (path === "/_sandbox/streams") {
        return jsonReply(200, { connections: api.streamConnections() });
      }
      if (path === "/_sandbox/policy") {
        return jsonReply(200, api.notificationPolicy(query.get("username") ?? ""));
      }
      return undefined;
    },
    post(path, input) {
      switch (path) {
        case "/_sandbox/statuses": {
          const { from, status, ...o } = CONTROL.post.parse(input);
          return jsonReply(201, api.postAs(from, status, o));
        }
        case "/_sandbox/drop-streams":
          return jsonReply(200, { dropped: api.dropStreams() });
        case "/_sandbox/streaming":
          api.setStreamingAvailable(CONTROL.streaming.parse(input).available);
          return jsonReply(200, {});
        case "/_sandbox/status-limit":
          api.setStatusLimit(StatusLimitSchema.nullable().parse(input));
          return jsonReply(200, {});
        default:
          return undefined;
      }
    },
  };
}

/** Two sets of control routes as one: the first that knows a path answers it. */
export function chainControls(first: ControlRoutes, second: ControlRoutes): ControlRoutes {
  return {
    get: (path, query) => first.get(path, query) ?? second.get(path, query),
    async post(path, input) {
      return (await first.post(path, input)) ?? (await second.post(path, input));
    },
    error: (err) => first.error?.(err) ?? second.error?.(err),
  };
}
