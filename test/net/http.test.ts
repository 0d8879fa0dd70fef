import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  BadResponseError,
  ForbiddenAddressError,
  RejectedError,
  TimeoutError,
  UnreachableError,
} from "../../src/net/errors.js";
import { guardedLookup } from "../../src/net/net-guard.js";
import { reportWaits } from "../../src/net/pacer.js";
import { client, serve, servers } from "./serve.js";

describe("Http", () => {
  it("waits out a 429 until X-RateLimit-Reset, then succeeds, and says when it will continue", async () => {
    let calls = 0;
    const times: number[] = [];
    const reset = new Date(Date.now() + 600);
    const url = await serve((_req, res) => {
      calls += 1;
      times.push(Date.now());
      res.setHeader("content-type", "application/json");
      res.setHeader("x-ratelimit-limit", "300");
      res.setHeader("x-ratelimit-reset", reset.toISOString().replace("Z", "000Z"));
      if (calls === 1) {
        res.statusCode = 429;
        res.setHeader("x-ratelimit-remaining", "0");
        res.end(JSON.stringify({ error: "Too many requests" }));
      } else {
        res.setHeader("x-ratelimit-remaining", "299");
        res.end(JSON.stringify({ ok: true }));
      }
    });
    const { http } = client();
    const waits: Date[] = [];
    const res = await reportWaits(
      (until) => waits.push(until),
      () => http.json(`${url}/x`, z.object({ ok: z.boolean() })),
    );
    expect(res.data).toEqual({ ok: true });
    expect(calls).toBe(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(450);
    expect(waits.length).toBe(1);
  });

  it("sends nothing while the window is used up", async () => {
    let calls = 0;
    const arrived: number[] = [];
    const reset = new Date(Date.now() + 500);
    const url = await serve((_req, res) => {
      calls += 1;
      arrived.push(Date.now());
      res.setHeader("content-type", "application/json");
      res.setHeader("x-ratelimit-limit", "2");
      res.setHeader("x-ratelimit-remaining", String(Math.max(0, 2 - calls)));
      res.setHeader("x-ratelimit-reset", reset.toISOString());
      res.end("{}");
    });
    const { http, pacer } = client();
    await http.request(`${url}/a`);
    await http.request(`${url}/b`);
    expect(pacer.state(pacer.bucketOf(new URL(url).origin, undefined))?.remaining).toBe(0);
    await http.request(`${url}/c`);
    expect(calls).toBe(3);
    // What the server sees: nothing arrives before the window it announced resets (measured
    // against that moment, not against when the call began, which a slow machine moves).
    expect(arrived[2]!).toBeGreaterThanOrEqual(reset.getTime());
  });

  it("retries 5xx on reads, then reports the trouble", async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls += 1;
      res.statusCode = 502;
      res.setHeader("content-type", "text/html");
      res.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
    });
    const { http } = client();
    const err = await http.request(`${url}/x`).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toBe(`${new URL(url).host} is having trouble (HTTP 502)`);
    expect(calls).toBe(4);
  });

  it("does not retry a POST that may have had an effect", async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls += 1;
      res.statusCode = 503;
      res.end("busy");
    });
    const { http } = client();
    await expect(
      http.request(`${url}/x`, { method: "POST", form: { a: "1" } }),
    ).rejects.toBeInstanceOf(BadResponseError);
    expect(calls).toBe(1);
  });

  it("carries the server's error text on a 4xx, JSON or not", async () => {
    const url = await serve((req, res) => {
      res.statusCode = req.url === "/json" ? 401 : 404;
      res.setHeader("content-type", req.url === "/json" ? "application/json" : "text/plain");
      res.end(
        req.url === "/json"
          ? JSON.stringify({ error: "The access token is invalid" })
          : "No such user",
      );
    });
    const { http } = client();
    const a = await http.request(`${url}/json`).catch((e) => e);
    expect(a).toBeInstanceOf(RejectedError);
    expect(a.status).toBe(401);
    expect(a.detail).toBe("The access token is invalid");
    const b = await http.request(`${url}/text`).catch((e) => e);
    expect(b.detail).toBe("No such user");
  });

  it("refuses an answer that is not the promised shape", async () => {
    const url = await serve((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ id: 5 }));
    });
    const { http } = client();
    const err = await http.json(`${url}/x`, z.object({ id: z.string() })).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toMatch(/unexpected answer \(id\)/);
  });

  it("times out a server that never answers", async () => {
    const url = await serve(() => {
      // never answers
    });
    const { http } = client({ timeoutMs: 200 });
    const err = await http.request(`${url}/x`).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it("reports a refused connection as unreachable", async () => {
    const url = await serve((_q, s) => s.end());
    const port = new URL(url).port;
    const s = servers.pop()!;
    await new Promise((r) => s.close(r));
    const { http } = client();
    await expect(http.request(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(
      UnreachableError,
    );
  });

  it("refuses private and plain-http addresses unless the operator allows them", async () => {
    let calls = 0;
    const url = await serve((_q, s) => {
      calls += 1;
      s.end("{}");
    });
    const { http } = client({ allowPrivate: false });
    await expect(http.request(`${url}/x`)).rejects.toBeInstanceOf(ForbiddenAddressError);
    await expect(http.request(url.replace("http:", "https:"))).rejects.toBeInstanceOf(
      ForbiddenAddressError,
    );
    expect(calls).toBe(0);
  });

  it("refuses a name that resolves to loopback, at connect time", async () => {
    const lookup = guardedLookup(false);
    const err = await new Promise((resolve) =>
      lookup("localhost", { all: true }, (e) => resolve(e)),
    );
    expect(err).toBeInstanceOf(ForbiddenAddressError);
  });
});

describe("Http's fetch", () => {
  it("is undici's own: the global fetch is never called", async () => {
    const url = await serve((_req, res) => res.end("{}"));
    const global = vi.fn(() => Promise.reject(new Error("the global fetch was used")));
    vi.stubGlobal("fetch", global);
    try {
      const { http } = client();
      expect((await http.request(`${url}/x`)).data).toBe("{}");
      expect(global).not.toHaveBeenCalled();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("Http.json", () => {
  it("asks with the Accept given and reads activity+json, jrd+json and ld+json alike", async () => {
    const accepts: (string | undefined)[] = [];
    const types = ["application/activity+json", "application/jrd+json", "application/ld+json"];
    const url = await serve((req, res) => {
      accepts.push(req.headers.accept);
      res.setHeader("content-type", types[accepts.length - 1] ?? "application/json");
      res.end(JSON.stringify({ id: "x" }));
    });
    const { http } = client();
    for (const accept of types) {
      const res = await http.json(`${url}/a`, z.object({ id: z.string() }), { accept });
      expect(res.data).toEqual({ id: "x" });
    }
    expect((await http.json(`${url}/a`, z.unknown())).data).toEqual({ id: "x" });
    expect(accepts).toEqual([...types, "application/json"]);
  });

  it("names the answer and the host the user knows in its errors", async () => {
    const url = await serve((req, res) => {
      res.setHeader("content-type", req.url === "/page" ? "text/html" : "application/json");
      res.end(req.url === "/page" ? "<html><body>Hi</body></html>" : JSON.stringify({ id: 5 }));
    });
    const { http } = client();
    const opts = { shownHost: "old.example", what: { data: "ActivityPub data", item: "an actor" } };
    const page = await http.json(`${url}/page`, z.unknown(), opts).catch((e) => e);
    expect(page).toBeInstanceOf(BadResponseError);
    expect(page.message).toBe("old.example answered with a web page instead of ActivityPub data");
    expect(page.host).toBe("old.example");
    const shape = await http.json(`${url}/x`, z.object({ id: z.string() }), opts).catch((e) => e);
    expect(shape.message).toBe("old.example sent an actor I can't read (id)");
    expect(shape.status).toBe(200);
  });

  it("answers allowed statuses with the server's text instead of throwing", async () => {
    const url = await serve((_req, res) => {
      res.statusCode = 404;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ error: "Record not found" }));
    });
    const { http } = client();
    const res = await http.json(`${url}/x`, z.unknown(), { allow: [404, 410] });
    expect(res).toMatchObject({ ok: false, status: 404, detail: "Record not found" });
    const err = await http.json(`${url}/x`, z.unknown(), { allow: [410] }).catch((e) => e);
    expect(err).toBeInstanceOf(RejectedError);
  });

  it("reads micro.blog's {error} in a 2xx as a refusal, and takes a 2xx that isn't JSON when told", async () => {
    const url = await serve((req, res) => {
      res.setHeader("content-type", req.url === "/text" ? "text/plain" : "application/json");
      res.end(req.url === "/text" ? "OK" : JSON.stringify({ error: "App token was not valid." }));
    });
    const { http } = client();
    const err = await http.json(`${url}/x`, z.unknown(), { errorBody: 401 }).catch((e) => e);
    expect(err).toBeInstanceOf(RejectedError);
    expect([err.status, err.detail]).toEqual([401, "App token was not valid."]);
    expect((await http.json(`${url}/x`, z.unknown())).data).toEqual({
      error: "App token was not valid.",
    });
    expect((await http.json(`${url}/text`, z.unknown(), { textOk: true })).data).toBeUndefined();
    await expect(http.json(`${url}/text`, z.unknown())).rejects.toBeInstanceOf(BadResponseError);
  });

  it("hands back the Link header's next page on the same origin only", async () => {
    const url = await serve((req, res) => {
      res.setHeader("content-type", "application/json");
      const next =
        req.url === "/far"
          ? "<https://elsewhere.example/api?max_id=1>"
          : `<${req.url === "/rel" ? "" : "http://127.0.0.1:1"}/api/v1/x?max_id=7>`;
      res.setHeader("link", `${next}; rel="next", </api/v1/x?min_id=9>; rel="prev"`);
      res.end("[]");
    });
    const { http } = client();
    const list = z.array(z.unknown());
    expect((await http.json(`${url}/rel`, list)).next).toBe(`${url}/api/v1/x?max_id=7`);
    expect((await http.json(`${url}/far`, list)).next).toBeUndefined();
    expect((await http.json(`${url}/port`, list)).next).toBeUndefined();
  });

  it("a next link that is no URL is a broken answer, not a crash and not the last page", async () => {
    const url = await serve((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.setHeader("link", '<http://[broken>; rel="next", <>; rel="prev"');
      res.end("[]");
    });
    const { http } = client();
    const err = await http.json(`${url}/x`, z.array(z.unknown())).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toBe(`${new URL(url).host} sent a next-page link I can't read`);
  });

  it("asks a read again whose answer came garbled (cut short, not JSON, a broken next link), never a POST", async () => {
    const calls = new Map<string, number>();
    const url = await serve((req, res) => {
      const path = req.url ?? "/";
      const n = (calls.get(path) ?? 0) + 1;
      calls.set(path, n);
      res.setHeader("content-type", "application/json");
      const body = JSON.stringify([{ id: "1" }]);
      if (n > 1 || path === "/shape") return void res.end(body);
      if (path.startsWith("/cut")) {
        res.setHeader("content-length", body.length + 1);
        res.write(body.slice(0, 5), () => res.destroy());
      } else if (path.startsWith("/link")) {
        res.setHeader("link", '<http://[broken>; rel="next"');
        res.end(body);
      } else res.end(`${body.slice(0, 5)}{"`);
    });
    const { http } = client();
    const list = z.array(z.object({ id: z.string() }));
    for (const path of ["/cut", "/garbled", "/link"])
      expect((await http.json(`${url}${path}`, list)).data).toEqual([{ id: "1" }]);
    const post = await http.json(`${url}/garbled-post`, list, { method: "POST" }).catch((e) => e);
    expect(post).toBeInstanceOf(BadResponseError);
    const shape = await http.json(`${url}/shape`, z.array(z.string())).catch((e) => e);
    expect(shape.message).toMatch(/unexpected answer/);
    expect(Object.fromEntries(calls)).toEqual({
      "/cut": 2,
      "/garbled": 2,
      "/link": 2,
      "/garbled-post": 1,
      "/shape": 1,
    });
  });
});
