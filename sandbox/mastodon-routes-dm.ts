/**
 * The routes a bot answering direct messages uses (Api::V1::StatusesController#create/show,
 * Api::V1::NotificationsController, Api::V2::NotificationPoliciesController,
 * Api::V1::Accounts::CredentialsController#update):
 *
 *   POST  /api/v1/statuses                   write, write:statuses; Idempotency-Key header
 *   GET   /api/v1/statuses/:id               authorize_if_got_token! read, read:statuses
 *   GET   /api/v1/notifications              read, read:notifications; require_user!
 *   GET   /api/v1/notifications/:id
 *   GET   /api/v2/notifications/policy       read, read:notifications (4.3+)
 *   PATCH /api/v2/notifications/policy       write, write:notifications (4.3+)
 *   PATCH /api/v1/accounts/update_credentials write, write:accounts (display_name, note, locked, bot, discoverable)
 */

import {
  type ApiRequest,
  authorizeIfGotToken,
  currentAccount,
  doorkeeperAuthorize,
  requireUser,
} from "./mastodon-auth.js";
import type { MastodonContext } from "./mastodon-context.js";
import { serializeCredentialAccount } from "./mastodon-entities.js";
import {
  apiJson,
  bigCursor,
  limitParam,
  paginateByMaxId,
  paginateByMinId,
  type Reply,
  recordNotFound,
  scalarParam,
} from "./mastodon-http.js";
import {
  type NotificationRow,
  notificationsLink,
  POLICY_KEYS,
  PolicyPatchSchema,
  serializeNotification,
} from "./mastodon-notifications.js";
import { VISIBILITIES, type Visibility } from "./mastodon-posting.js";
import type { AccountRow } from "./mastodon-rows.js";
import { successHeaders } from "./mastodon-throttle.js";

/** ActiveModel::Type::Boolean: blank is nil, the usual false strings are false. */
function castBoolean(value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "boolean") return value;
  return !["0", "f", "F", "false", "FALSE", "off", "OFF"].includes(String(value));
}

const strings = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter(
    (v): v is string => typeof v === "string",
  );

/** The routes of this module; null when the path/method is not one of them. */
export function dmRoute(ctx: MastodonContext, r: ApiRequest, method: string): Reply | null {
  const { path } = r;
  if (path === "/api/v1/statuses" && method === "POST") return createStatus(ctx, r);
  const status = /^\/api\/v1\/statuses\/([^/.?]+)$/.exec(path);
  if (status && method === "GET") return showStatus(ctx, r, status[1]!);
  if (path === "/api/v1/notifications" && method === "GET") return listNotifications(ctx, r);
  const one = /^\/api\/v1\/notifications\/([^/.?]+)$/.exec(path);
  if (one && method === "GET" && one[1] !== "policy") return showNotification(ctx, r, one[1]!);
  if (path === "/api/v2/notifications/policy" && ctx.store.atLeast(4, 3)) {
    if (method === "GET") return policy(ctx, r, false);
    if (method === "PATCH" || method === "PUT") return policy(ctx, r, true);
  }
  if (path === "/api/v1/accounts/update_credentials" && (method === "PATCH" || method === "PUT")) {
    return updateCredentials(ctx, r);
  }
  return null;
}

function user(ctx: MastodonContext, r: ApiRequest, scopes: string[]): AccountRow | Reply {
  const denied = doorkeeperAuthorize(r, scopes) ?? requireUser(ctx.store, r);
  return denied ?? currentAccount(ctx.store, r)!;
}

const isReply = (x: AccountRow | Reply): x is Reply => "status" in x && "body" in x;

function createStatus(ctx: MastodonContext, r: ApiRequest): Reply {
  const me = user(ctx, r, ["write", "write:statuses"]);
  if (isReply(me)) return me;
  const visibilityRaw = scalarParam(r.params, "visibility");
  if (
    visibilityRaw !== undefined &&
    visibilityRaw !== "" &&
    !(VISIBILITIES as readonly string[]).includes(visibilityRaw)
  ) {
    return apiJson(422, { error: `'${visibilityRaw}' is not a valid visibility` });
  }
  const header = r.req.headers["idempotency-key"];
  const result = ctx.posting.post(me, {
    text: scalarParam(r.params, "status") ?? "",
    visibility: (visibilityRaw || undefined) as Visibility | undefined,
    inReplyToId: scalarParam(r.params, "in_reply_to_id") || null,
    spoilerText: scalarParam(r.params, "spoiler_text") ?? "",
    idempotencyKey: typeof header === "string" && header.trim() !== "" ? header : undefined,
  });
  const reply =
    "error" in result
      ? apiJson(result.status, { error: result.error })
      : apiJson(200, ctx.posting.serialize(result, me));
  // override_rate_limit_headers :create, family: :statuses — unless Rack::Attack's are tighter.
  const family = ctx.posting.limitHeaders(me);
  if (!family) return reply;
  const rack = successHeaders(r.throttle, r.nowMs)["X-RateLimit-Remaining"];
  if (rack !== undefined && Number(family["X-RateLimit-Remaining"]) > Number(rack)) return reply;
  return { ...reply, headers: { ...reply.headers, ...family } };
}

function showStatus(ctx: MastodonContext, r: ApiRequest, id: string): Reply {
  const denied = authorizeIfGotToken(r, ["read", "read:statuses"]);
  if (denied) return denied;
  const viewer = currentAccount(ctx.store, r);
  const status = ctx.store.statuses.get(id.trim());
  // set_status: a status the viewer may not see is a 404, not a 403.
  if (!status || !ctx.posting.visibleTo(status, viewer)) return recordNotFound();
  return apiJson(200, ctx.posting.serialize(status, viewer ?? null));
}

/** A notification as its recipient is shown it (the API and the streaming server alike). */
export function notificationJson(ctx: MastodonContext, n: NotificationRow) {
  const me = ctx.store.accounts.get(n.accountId)!;
  const status = ctx.store.statuses.get(n.statusId);
  return serializeNotification(ctx.store, n, status ? ctx.posting.serialize(status, me) : null);
}

function listNotifications(ctx: MastodonContext, r: ApiRequest): Reply {
  const me = user(ctx, r, ["read", "read:notifications"]);
  if (isReply(me)) return me;
  const p = r.params;
  const types = strings(p.types);
  const excludeTypes = strings(p.exclude_types);
  const accountId = scalarParam(p, "account_id");
  const rows = ctx.notifications.visible(me, {
    types,
    excludeTypes,
    fromAccountId: accountId,
    includeFiltered: ctx.store.atLeast(4, 3) && castBoolean(p.include_filtered) === true,
  });
  const limitRaw = scalarParam(p, "limit") ?? null;
  const limit = limitParam(limitRaw, 40);
  const id = (n: NotificationRow) => BigInt(n.id);
  const minId = bigCursor(scalarParam(p, "min_id") ?? null);
  const maxId = bigCursor(scalarParam(p, "max_id") ?? null);
  const page =
    minId !== null
      ? paginateByMinId(rows, id, limit, minId, maxId)
      : paginateByMaxId(rows, id, limit, maxId, bigCursor(scalarParam(p, "since_id") ?? null));
  const link = notificationsLink(
    `http://${r.host}/api/v1/notifications`,
    {
      ...(limitRaw !== null ? { limit: limitRaw } : {}),
      ...(accountId !== undefined ? { account_id: accountId } : {}),
      types,
      exclude_types: excludeTypes,
    },
    page,
  );
  return apiJson(
    200,
    page.map((n) => notificationJson(ctx, n)),
    link ? { Link: link } : undefined,
  );
}

function showNotification(ctx: MastodonContext, r: ApiRequest, id: string): Reply {
  const me = user(ctx, r, ["read", "read:notifications"]);
  if (isReply(me)) return me;
  const n = ctx.notifications.find(me, id);
  return n ? apiJson(200, notificationJson(ctx, n)) : recordNotFound();
}

function policy(ctx: MastodonContext, r: ApiRequest, update: boolean): Reply {
  const me = user(
    ctx,
    r,
    update ? ["write", "write:notifications"] : ["read", "read:notifications"],
  );
  if (isReply(me)) return me;
  let current = ctx.notifications.policyOf(me);
  if (update) {
    const given: Record<string, unknown> = {};
    for (const key of POLICY_KEYS) if (r.params[key] !== undefined) given[key] = r.params[key];
    const patch = PolicyPatchSchema.safeParse(given);
    if (!patch.success) {
      const key = String(patch.error.issues[0]?.path[0] ?? "policy");
      return apiJson(422, { error: `Validation failed: ${key} is not included in the list` });
    }
    current = ctx.notifications.updatePolicy(me, patch.data);
  }
  const pending = ctx.notifications.pendingOf(me);
  return apiJson(200, {
    ...current,
    summary: {
      pending_requests_count: pending.requests,
      pending_notifications_count: pending.notifications,
    },
  });
}

function updateCredentials(ctx: MastodonContext, r: ApiRequest): Reply {
  const me = user(ctx, r, ["write", "write:accounts"]);
  if (isReply(me)) return me;
  const p = r.params;
  const displayName = scalarParam(p, "display_name");
  const note = scalarParam(p, "note");
  if (displayName !== undefined && [...displayName].length > 30) {
    return apiJson(422, {
      error: "Validation failed: Display name is too long (maximum is 30 characters)",
    });
  }
  if (displayName !== undefined) me.displayName = displayName;
  if (note !== undefined) me.note = note;
  const locked = castBoolean(p.locked);
  const bot = castBoolean(p.bot);
  const discoverable = castBoolean(p.discoverable);
  if (locked !== undefined) me.locked = locked;
  if (bot !== undefined) me.bot = bot;
  if (discoverable !== undefined) me.discoverable = discoverable;
  return apiJson(200, serializeCredentialAccount(ctx.store, me));
}
