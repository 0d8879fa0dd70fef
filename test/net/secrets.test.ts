/**
 * Errors leave Http without the request's secrets: the OAuth code in the query, the bearer
 * token, a token in a form; wherever a server echoes them or a cause might carry them.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  BadResponseError,
  RateLimitedError,
  RejectedError,
  RemoteError,
  TimeoutError,
  UnreachableError,
} from "../../src/net/errors.js";
import type { RequestOptions } from "../../src/net/http.js";
import { Pacer } from "../../src/net/pacer.js";
import { client, serve, servers } from "./serve.js";

const CODE = "SECRETcode0123456789";
const TOKEN = "SECRETtoken9876543210";
const FORM_TOKEN = "SECRETapptoken5555";
const SECRETS = [CODE, TOKEN, FORM_TOKEN, "SECRET"];

/** The error and every cause in its chain. */
function chainOf(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e != null && chain.length < 10; e = (e as { cause?: unknown }).cause)
    chain.push(e);
  return chain;
}

/** Neither secret anywhere: message, fields, String(), JSON, the stack, and each cause alike. */
function expectClean(err: unknown): void {
  const chain = chainOf(err);
  for (const e of chain) {
    const views = [String(e), JSON.stringify(e) ?? "", inspect(e, { depth: 8, showHidden: true })];
    if (e instanceof Error) views.push(e.message, e.stack ?? "");
    for (const [key, value] of Object.entries(e as object)) views.push(`${key}=${String(value)}`);
    for (const view of views) for (const s of SECRETS) expect(view).not.toContain(s);
  }
}

/** A server that answers with `status` and echoes what it was sent: URL, headers and body. */
async function echoing(status: number, contentType = "application/json") {
  return serve((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const said = `Bad request ${req.method} ${req.url} auth=${req.headers.authorization} body=${body}`;
      res.statusCode = status;
      res.setHeader("content-type", contentType);
      res.end(contentType === "application/json" ? JSON.stringify({ error: said }) : said);
    });
  });
}

async function failure(p: Promise<unknown>): Promise<RemoteError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RemoteError);
  return err as RemoteError;
}

const asked: RequestOptions = { token: TOKEN };

describe("errors carry the request, never its secrets", () => {
  it("a 4xx that echoes the URL, the token and the form: RejectedError with method and path", async () => {
    const url = await echoing(400);
    const { http } = client();
    const err = await failure(
      http.json(`${url}/oauth/token?code=${CODE}&state=x`, z.unknown(), {
        ...asked,
        method: "POST",
        form: { grant_type: "authorization_code", code: CODE, token: FORM_TOKEN },
      }),
    );
    expect(err).toBeInstanceOf(RejectedError);
    expect([err.method, err.path]).toEqual(["POST", "/oauth/token"]);
    expect((err as RejectedError).detail).toContain("[redacted]");
    expect((err as RejectedError).detail).toContain("grant_type=authorization_code");
    expectClean(err);
  });

  it("a plain-text or HTML 4xx, and a 401 for a token sent in a form (micro.blog's verify)", async () => {
    const text = await echoing(404, "text/plain");
    const { http } = client();
    const a = await failure(http.request(`${text}/users/x?code=${CODE}`, asked));
    expect([a.method, a.path]).toEqual(["GET", "/users/x"]);
    expectClean(a);
    const html = await echoing(401, "text/html");
    const b = await failure(
      http.json(`${html}/account/verify`, z.unknown(), {
        method: "POST",
        form: { token: FORM_TOKEN },
      }),
    );
    expect((b as RejectedError).status).toBe(401);
    expectClean(b);
  });

  it("a 2xx that is micro.blog's {error}, one that isn't JSON, and one of the wrong shape", async () => {
    const json = await echoing(200);
    const { http } = client();
    const refused = await failure(
      http.json(`${json}/x?code=${CODE}`, z.unknown(), { ...asked, errorBody: 400 }),
    );
    expect(refused).toBeInstanceOf(RejectedError);
    expect([refused.method, refused.path]).toEqual(["GET", "/x"]);
    expectClean(refused);
    const shape = await failure(
      http.json(`${json}/x?code=${CODE}`, z.object({ id: z.string() }), asked),
    );
    expect(shape).toBeInstanceOf(BadResponseError);
    expect(shape.path).toBe("/x");
    expect(shape.cause).toBeInstanceOf(z.ZodError);
    expectClean(shape);
    // Not JSON: JSON.parse quotes the start of the body, which here is the echo.
    const text = await serve((req, res) => res.end(`${TOKEN} ${req.url}`));
    const notJson = await failure(http.json(`${text}/y?code=${CODE}`, z.unknown(), asked));
    expect(notJson).toBeInstanceOf(BadResponseError);
    expect(notJson.cause).toBeInstanceOf(SyntaxError);
    expect(notJson.path).toBe("/y");
    expectClean(notJson);
    for (const e of chainOf(notJson)) expect(String(e)).not.toContain(TOKEN.slice(0, 6));
  });

  it("a 5xx, and a limit that doesn't clear, with the refusal as the cause", async () => {
    const url = await echoing(503);
    const { http } = client();
    const trouble = await failure(http.request(`${url}/z?code=${CODE}`, { ...asked, retries: 0 }));
    expect(trouble).toBeInstanceOf(BadResponseError);
    expect([trouble.method, trouble.path]).toEqual(["GET", "/z"]);
    expectClean(trouble);

    const limited = await echoing(403);
    const pacer = new Pacer(5);
    pacer.rule(limited, { limit: 100, limitStatus: 403, blockMs: 20, tries: 2 });
    const { http: paced } = client({ pacer });
    const err = await failure(paced.request(`${limited}/users/follow?code=${CODE}`, asked));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect([err.method, err.path]).toEqual(["GET", "/users/follow"]);
    expect(err.cause).toBeInstanceOf(RejectedError);
    expect((err.cause as RejectedError).status).toBe(403);
    expectClean(err);
  });

  it("a timeout and a refused connection keep the network's error as the cause", async () => {
    const silent = await serve(() => {
      // never answers
    });
    const { http } = client({ timeoutMs: 150 });
    const timeout = await failure(
      http.request(`${silent}/slow?code=${CODE}`, { ...asked, retries: 0 }),
    );
    expect(timeout).toBeInstanceOf(TimeoutError);
    expect([timeout.method, timeout.path]).toEqual(["GET", "/slow"]);
    expect(timeout.cause).toBeDefined();
    expectClean(timeout);

    const closed = await serve((_q, s) => s.end());
    const s = servers.pop()!;
    await new Promise((r) => s.close(r));
    const gone = await failure(
      http.request(`${closed}/gone?code=${CODE}`, {
        ...asked,
        method: "POST",
        form: { code: CODE },
      }),
    );
    expect(gone).toBeInstanceOf(UnreachableError);
    expect([gone.method, gone.path]).toEqual(["POST", "/gone"]);
    expect(chainOf(gone).length).toBeGreaterThan(1);
    expectClean(gone);
  });

  it("a private address refused by the guard", async () => {
    const url = await echoing(200);
    const { http } = client({ allowPrivate: false });
    const err = await failure(http.request(`${url}/p?access_token=${TOKEN}`, asked));
    expect([err.method, err.path]).toEqual(["GET", "/p"]);
    expect(err.cause).toBeDefined();
    expectClean(err);
  });
});
