/**
 * The bot's small web side, started only when PUBLIC_URL is set: the OAuth
 * callback and a health check. Pages are plain HTML with every string escaped.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { escapeHtml } from "../../chat/text.js";
import { log } from "../../log.js";
import type { Page } from "./oauth-callback.js";

export interface WebRoutes {
  callback(url: URL): Promise<Page>;
}

function render(p: Page): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(p.title)} · fedimove</title></head><body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem"><h1>${escapeHtml(p.title)}</h1><p>${escapeHtml(p.body)}</p></body></html>`;
}

export async function startWeb(
  routes: WebRoutes,
  opts: { host: string; port: number },
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (p: Page) => {
      res.writeHead(p.status, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
      });
      res.end(render(p));
    };
    if (req.method === "GET" && url.pathname === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (req.method === "GET" && url.pathname === "/oauth/callback") {
      routes.callback(url).then(send, (err) => {
        log.error("oauth callback failed", { err });
        send({
          status: 500,
          title: "Something went wrong",
          body: "Nothing changed. Go back to the chat and try again.",
        });
      });
      return;
    }
    send({ status: 404, title: "Not found", body: "There's nothing here." });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, resolve);
  });
  const addr = server.address() as AddressInfo;
  return { server, url: `http://${addr.address}:${addr.port}` };
}
