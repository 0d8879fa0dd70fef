import type { Server } from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";
import { opsRoutes } from "../../src/channels/web/ops-routes.js";
import { startWeb } from "../../src/channels/web/server.js";
import { log, logContext } from "../../src/log.js";
import { openStore } from "../../src/store/open-store.js";
import { client, serve } from "../net/serve.js";

const open: Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await new Promise((r) => s.close(r));
});

async function web(checks: Parameters<typeof opsRoutes>[0]) {
  const started = await startWeb(
    { callback: async () => ({ status: 404, title: "x", body: "x" }), raw: [opsRoutes(checks)] },
    { host: "127.0.0.1", port: 0 },
  );
  open.push(started.server);
  return started.url;
}

describe("the operator's addresses", () => {
  it("/healthz is 200 while the store and the queue answer, 503 naming the one that doesn't", async () => {
    const store = await openStore("redis://127.0.0.1:6379");
    try {
      let queueDown = false;
      const url = await web({
        store: () => store.namespace("health").get("ping"),
        queue: async () => {
          if (queueDown) throw new Error("ECONNREFUSED");
        },
      });
      const up = await fetch(`${url}/healthz`);
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ store: "ok", queue: "ok" });
      queueDown = true;
      const down = await fetch(`${url}/healthz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ store: "ok", queue: "unreachable" });
    } finally {
      await store.close();
    }
  });

  it("/metrics counts remote requests by host in Prometheus's text", async () => {
    const remote = await serve((_req, res) => res.end("{}"));
    await client().http.request(`${remote}/x`);
    const url = await web({});
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    const host = new URL(remote).host;
    expect(text).toMatch(
      new RegExp(`fedimove_remote_requests_total\\{host="${host}",status="2xx"\\} 1`),
    );
    expect(text).toContain("fedimove_turn_seconds_bucket");
  });

  it("every log line carries the ids of the request or job it happens in", () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      logContext({ job: "j1" }, () => logContext({ request: "r1" }, () => log.info("hello")));
      log.info("outside");
    } finally {
      spy.mockRestore();
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "hello", job: "j1", request: "r1" });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty("request");
  });
});
