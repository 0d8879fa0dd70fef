/**
 * The operator's two addresses on the web side: /healthz answers 200 when the store and the
 * job queue answer (503 naming the one that doesn't: a load balancer takes the process out),
 * and /metrics is Prometheus's text (src/metrics.ts). Neither says anything about a user.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { log } from "../../log.js";
import { registry } from "../../metrics.js";

/** A route that answers some requests itself: true when it took this one. */
export type RawRoute = (req: IncomingMessage, url: URL, res: ServerResponse) => boolean;

/** What must answer for the process to be healthy, by name: each resolves, or throws why not. */
export type HealthChecks = Record<string, () => Promise<unknown>>;

const CHECK_MS = 3000;

export function opsRoutes(checks: HealthChecks): RawRoute {
  return (req, url, res) => {
    if (req.method !== "GET") return false;
    if (url.pathname === "/healthz") {
      void health(checks).then(({ ok, report }) => {
        res
          .writeHead(ok ? 200 : 503, {
            "content-type": "application/json",
            "cache-control": "no-store",
          })
          .end(JSON.stringify(report));
      });
      return true;
    }
    if (url.pathname === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (err: unknown) => {
          log.error("metrics failed", { err });
          res.writeHead(500).end();
        },
      );
      return true;
    }
    return false;
  };
}

async function health(checks: HealthChecks) {
  const report: Record<string, string> = {};
  let ok = true;
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error("no answer")), CHECK_MS).unref(),
          ),
        ]);
        report[name] = "ok";
      } catch (err) {
        ok = false;
        report[name] = "unreachable";
        log.warn("healthz: a check failed", { check: name, err });
      }
    }),
  );
  return { ok, report };
}
