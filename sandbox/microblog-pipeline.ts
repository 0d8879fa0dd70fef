/**
 * The micro.blog stand-in's stages of the shared request pipeline (http-pipeline.ts): paths
 * with a trailing slash dropped and percent-decoding applied, a log entry with the client IP
 * and the token's user, nginx's rate limit (counted at arrival, refused with its 403 page
 * after the latency), nginx's page for injected faults without a body, then the routes.
 */

import { nginxErrorPage } from "./html.js";
import type { ControlRoutes, PipelineStages } from "./http-pipeline.js";
import { readParams, route, tokenString } from "./microblog-routes.js";
import { errorReply, json, type MicroblogState, type TokenRow } from "./microblog-state.js";
import type { RequestLogEntry } from "./microblog-types.js";

interface Arrival {
  token: TokenRow | null;
  /** The end of the rate-limit window that refused the request, or null. */
  refusedUntil: number | null;
}

export function microblogStages(
  state: MicroblogState,
  control: ControlRoutes,
): PipelineStages<RequestLogEntry, Arrival> {
  return {
    path(pathname) {
      const path = pathname.replace(/(.)\/$/, "$1");
      try {
        return decodeURIComponent(path);
      } catch {
        return path; // a malformed escape matches no route
      }
    },
    control,
    open({ req, rawUrl }) {
      const now = state.clock();
      const token = state.validToken(tokenString(req));
      const ip = (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
      const entry: RequestLogEntry = {
        method: req.method ?? "GET",
        path: rawUrl,
        status: 0,
        time: now,
        durationMs: 0,
        ip,
        user: token?.user.username ?? null,
      };
      // nginx counts at arrival, before the application sees the request.
      return { entry, state: { token, refusedUntil: state.limiter.check(ip, now) } };
    },
    readsBody: () => true,
    gate({ refusedUntil }, entry) {
      if (refusedUntil === null) return null;
      entry.resetAt = refusedUntil;
      return { status: 403, body: nginxErrorPage(403), contentType: "text/html" };
    },
    faultReply: ({ status, body, contentType }) =>
      body === undefined
        ? { status, body: nginxErrorPage(status), contentType: contentType ?? "text/html" }
        : errorReply({ status, body, ...(contentType ? { contentType } : {}) }),
    async answer({ req, method, path, query }, body, { token }) {
      try {
        return route(state, {
          req,
          method,
          path,
          query,
          params: readParams(req, body, query),
          token,
        });
      } catch {
        return json(400, { error: "Error while processing the request." });
      }
    },
    crash: () => ({ status: 500, body: nginxErrorPage(500), contentType: "text/html" }),
  };
}
