/**
 * Redirects: a request that carries a body or a credential never follows one to another
 * origin (that origin receives nothing), follows on its own origin the way fetch would, and a
 * plain GET goes where it is sent, a bounded number of times.
 */
import type http from "node:http";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BadResponseError, RedirectRefusedError } from "../../src/net/errors.js";
import { explainRemote } from "../../src/steps/lib/explain.js";
import { client, serve } from "./serve.js";

interface Seen {
  method: string;
  path: string;
  auth?: string;
  body: string;
}

/** A server that notes every request it gets and answers with `answer`. */
async function noting(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const url = await serve((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        path: req.url ?? "",
        auth: req.headers.authorization,
        body,
      });
      answer(req, res);
    });
  });
  return { url, seen };
}

const ok = (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ ok: true }));
};

/** An answer that sends the request on with `status` to `to` + the same path. */
function sendingOn(status: number, to: () => string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.statusCode = status;
    res.setHeader("location", `${to()}${req.url}`);
    res.end();
  };
}

/** A server whose /old sends the request on with `status` to /new, which answers. */
function moved(status: number) {
  return noting((req, res) => {
    if (req.url !== "/old") return ok(req, res);
    res.statusCode = status;
    res.setHeader("location", "/new");
    res.end();
  });
}

const Ok = z.object({ ok: z.boolean() });

describe("redirects", () => {
  it.each([301, 302, 303, 307, 308])(
    "a form sent with %i to another origin goes nowhere",
    async (status) => {
      const elsewhere = await noting(ok);
      const first = await noting(sendingOn(status, () => elsewhere.url));
      const { http } = client();
      const err = await http
        .json(`${first.url}/api/v1/x`, Ok, { method: "POST", form: { secret: "s3cret-value" } })
        .catch((e) => e);
      expect(err).toBeInstanceOf(RedirectRefusedError);
      expect(explainRemote(err, "first.example")).toMatch(
        /^first\.example tried to send that request on to another address/,
      );
      expect(err.message).toBe(
        `${new URL(first.url).host} sent this request on to ${new URL(elsewhere.url).host}, and I only send it to ${new URL(first.url).host}`,
      );
      expect(err.status).toBe(status);
      expect(first.seen).toHaveLength(1);
      expect(elsewhere.seen).toEqual([]);
    },
  );

  it.each([302, 307])(
    "a GET with a token sent with %i to another origin goes nowhere",
    async (status) => {
      const elsewhere = await noting(ok);
      const first = await noting(sendingOn(status, () => elsewhere.url));
      const { http } = client();
      const err = await http
        .json(`${first.url}/api/v1/accounts/verify_credentials`, Ok, { token: "tok-123456" })
        .catch((e) => e);
      expect(err).toBeInstanceOf(BadResponseError);
      expect(first.seen.map((s) => s.auth)).toEqual(["Bearer tok-123456"]);
      expect(elsewhere.seen).toEqual([]);
    },
  );

  it("a GET with the credential in an Authorization header, any case, stays on its origin", async () => {
    const elsewhere = await noting(ok);
    const first = await noting(sendingOn(302, () => elsewhere.url));
    const { http } = client();
    await expect(
      http.json(`${first.url}/x`, Ok, { headers: { Authorization: "Bearer tok-123456" } }),
    ).rejects.toBeInstanceOf(BadResponseError);
    expect(elsewhere.seen).toEqual([]);
  });

  it("a 307 or 308 on the same origin repeats the request, body and all", async () => {
    for (const status of [307, 308]) {
      const server = await moved(status);
      const { http } = client();
      const res = await http.json(`${server.url}/old`, Ok, {
        method: "POST",
        token: "tok-123456",
        form: { a: "1" },
      });
      expect(res.data).toEqual({ ok: true });
      expect(server.seen.map((s) => [s.method, s.path, s.auth, s.body])).toEqual([
        ["POST", "/old", "Bearer tok-123456", "a=1"],
        ["POST", "/new", "Bearer tok-123456", "a=1"],
      ]);
    }
  });

  it("a 303 after a POST on the same origin is a GET without the body, as fetch does", async () => {
    const server = await noting((req, res) => {
      if (req.method === "POST") {
        res.statusCode = 303;
        res.setHeader("location", "/done");
        res.end();
      } else ok(req, res);
    });
    const { http } = client();
    await http.json(`${server.url}/submit`, Ok, { method: "POST", form: { a: "1" } });
    expect(server.seen.map((s) => [s.method, s.path, s.body])).toEqual([
      ["POST", "/submit", "a=1"],
      ["GET", "/done", ""],
    ]);
  });

  it("a plain GET follows to another origin", async () => {
    const elsewhere = await noting(ok);
    const first = await noting(sendingOn(301, () => elsewhere.url));
    const { http } = client();
    const res = await http.json(`${first.url}/.well-known/nodeinfo`, Ok);
    expect(res.data).toEqual({ ok: true });
    expect(elsewhere.seen.map((s) => [s.method, s.path, s.auth])).toEqual([
      ["GET", "/.well-known/nodeinfo", undefined],
    ]);
  });

  it("stops after five hops", async () => {
    const loop = await noting((req, res) => {
      const n = Number(req.url?.slice(1) ?? 0);
      res.statusCode = 302;
      res.setHeader("location", `/${n + 1}`);
      res.end();
    });
    const { http } = client();
    const err = await http.json(`${loop.url}/0`, Ok).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toBe(`${new URL(loop.url).host} redirected too many times`);
    expect(loop.seen).toHaveLength(6);
  });

  it("a redirect to something that isn't a web address goes nowhere", async () => {
    const server = await noting((_req, res) => {
      res.statusCode = 302;
      res.setHeader("location", "file:///etc/passwd");
      res.end();
    });
    const { http } = client();
    const err = await http.json(`${server.url}/x`, Ok).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toMatch(/answered with a redirect to nowhere \(HTTP 302\)$/);
  });

  it("with redirect: error, even a same-origin redirect is an error", async () => {
    const server = await moved(307);
    const { http } = client();
    const err = await http.json(`${server.url}/old`, Ok, { redirect: "error" }).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toBe(
      `${new URL(server.url).host} answered with a redirect (HTTP 307), which I don't follow here`,
    );
    expect(server.seen).toHaveLength(1);
  });
});
