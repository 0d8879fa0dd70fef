import { describe, expect, it } from "vitest";
import { RateLimitedError, RejectedError } from "../../src/net/errors.js";
import { Pacer, reportWaits } from "../../src/net/pacer.js";
import { client, serve } from "./serve.js";

/** A server that answers 200 and notes when each request arrived and with which token. */
async function counting(status: (n: number) => number = () => 200) {
  const seen: { at: number; auth: string | undefined; inFlight: number }[] = [];
  let inFlight = 0;
  const url = await serve((req, res) => {
    inFlight += 1;
    seen.push({ at: Date.now(), auth: req.headers.authorization, inFlight });
    setTimeout(() => {
      inFlight -= 1;
      res.statusCode = status(seen.length);
      res.setHeader("content-type", "text/plain");
      res.end(res.statusCode === 200 ? "{}" : "Forbidden");
    }, 10);
  });
  return { url, seen };
}

describe("Pacer rules for an origin", () => {
  it("counts every user's requests in one bucket for a ruled origin, per token elsewhere", () => {
    const pacer = new Pacer();
    pacer.rule("https://micro.blog.example/", { limit: 300 });
    expect(pacer.bucketOf("https://micro.blog.example", "Bearer a")).toBe(
      "https://micro.blog.example",
    );
    expect(pacer.bucketOf("https://micro.blog.example", "Bearer b")).toBe(
      "https://micro.blog.example",
    );
    const a = pacer.bucketOf("https://mastodon.example", "Bearer a");
    expect(a).not.toBe(pacer.bucketOf("https://mastodon.example", "Bearer b"));
    expect(a).not.toContain("Bearer");
    expect(pacer.ruleOf("https://micro.blog.example")).toEqual({
      limit: 300,
      windowMs: 60_000,
      limitStatus: undefined,
      ambiguousStatus: undefined,
      blockMs: 60_000,
      tries: 3,
    });
  });

  it("spaces requests so that no stretch of the window holds more than the limit", async () => {
    const { url, seen } = await counting();
    // A slack of 200 ms: arrivals jitter (a new connection takes longer than a reused one,
    // and a machine busy with other tests delays some by 100 ms and more).
    const pacer = new Pacer(200);
    pacer.rule(url, { limit: 3, windowMs: 400 });
    const { http } = client({ pacer });
    await Promise.all(
      Array.from({ length: 7 }, (_, k) => http.request(`${url}/x`, { token: `t${k}` })),
    );
    expect(seen).toHaveLength(7);
    // Sent 600 ms apart (the window and the pacer's slack); no three arrive within the window.
    for (let i = 3; i < seen.length; i++) {
      expect(seen[i]!.at - seen[i - 3]!.at).toBeGreaterThanOrEqual(400);
    }
  });

  it("with a limit status: one request in flight while R·c < 1, and that status blocks every user for blockMs", async () => {
    const { url, seen } = await counting((n) => (n === 3 ? 403 : 200));
    const pacer = new Pacer(20);
    // R·c: 6 per 5 s, at 10 ms (or, on a busy machine, 800 ms) a request, is under 1: one lane.
    pacer.rule(url, { limit: 6, windowMs: 5000, limitStatus: 403, blockMs: 300 });
    const { http } = client({ pacer });
    const waits: Date[] = [];
    await reportWaits(
      (until) => waits.push(until),
      () =>
        Promise.all(
          Array.from({ length: 5 }, (_, k) => http.request(`${url}/x`, { token: `t${k}` })),
        ),
    );
    // Five calls, one of them refused and tried again.
    expect(seen).toHaveLength(6);
    expect(Math.max(...seen.map((s) => s.inFlight))).toBe(1);
    expect(seen[3]!.at - seen[2]!.at).toBeGreaterThanOrEqual(290);
    expect(waits.length).toBeGreaterThanOrEqual(1);
  });

  it("keeps ⌈R·c⌉ requests in flight where a refusal comes after the fact, so slow answers don't slow the rate", async () => {
    const seen: number[] = [];
    let inFlight = 0;
    const url = await serve((_req, res) => {
      inFlight += 1;
      seen.push(inFlight);
      setTimeout(() => {
        inFlight -= 1;
        res.end("{}");
      }, 60);
    });
    const pacer = new Pacer(10);
    // R = 0.1 a ms; c ≈ 60 ms: R·c ≈ 6.
    pacer.rule(url, { limit: 1000, windowMs: 10_000, ambiguousStatus: 403 });
    const { http } = client({ pacer });
    await Promise.all(Array.from({ length: 40 }, (_, k) => http.request(`${url}/x${k}`)));
    const most = Math.max(...seen);
    expect(most).toBeGreaterThan(1);
    // Bounded by R·c, not by the callers: 40 waited at once.
    expect(most).toBeLessThan(40);
    expect(pacer.lanes(new URL(url).origin)).toBeGreaterThanOrEqual(6);
  });

  it("gives up with RateLimitedError after `tries` refusals, saying when the block ends", async () => {
    const { url, seen } = await counting(() => 403);
    const pacer = new Pacer(10);
    pacer.rule(url, { limit: 100, limitStatus: 403, blockMs: 100, tries: 3 });
    const { http } = client({ pacer });
    const started = Date.now();
    const err = await http.request(`${url}/x`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).message).toBe(
      `${new URL(url).host} keeps refusing (HTTP 403)`,
    );
    expect((err as RateLimitedError).resetAt.getTime()).toBeGreaterThan(started + 200);
    expect(seen).toHaveLength(3);
  });

  it("lets the next request go when one waiting for its turn is aborted", async () => {
    const { url, seen } = await counting((n) => (n === 1 ? 403 : 200));
    const pacer = new Pacer(10);
    pacer.rule(url, { limit: 100, limitStatus: 403, blockMs: 300, tries: 1 });
    const { http } = client({ pacer });
    await http.request(`${url}/x`).catch(() => undefined);
    const aborted = http
      .request(`${url}/y`, { signal: AbortSignal.timeout(50) })
      .catch((e: unknown) => e);
    const next = http.request(`${url}/z`);
    expect(await aborted).toBeInstanceOf(DOMException);
    await next;
    expect(seen).toHaveLength(2);
  });
});

describe("Pacer rules with an ambiguous status (micro.blog's 403: its limit, or another refusal)", () => {
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  it("one that comes after a quiet window blocks nothing, and comes back as the refusal", async () => {
    const { url, seen } = await counting((n) => (n === 1 ? 403 : 200));
    const pacer = new Pacer(10);
    pacer.rule(url, { limit: 100, windowMs: 1000, ambiguousStatus: 403, blockMs: 5000 });
    const { http } = client({ pacer });
    const err = await failure(http.request(`${url}/x`, { token: "t" }));
    expect(err).toBeInstanceOf(RejectedError);
    expect((err as RejectedError).status).toBe(403);
    expect(pacer.blockedUntil(new URL(url).origin)).toBeUndefined();
    await http.request(`${url}/y`, { token: "u" });
    expect(seen).toHaveLength(2);
  });

  it("one in a busy window blocks every user; the first after the block is judged quiet", async () => {
    const { url, seen } = await counting((n) => (n === 3 || n === 4 ? 403 : 200));
    const pacer = new Pacer(20);
    // R·c: 4 per 2 s, at 10 ms (or, on a busy machine, 400 ms) a request, is under 1: one lane.
    pacer.rule(url, { limit: 4, windowMs: 2000, ambiguousStatus: 403, blockMs: 2000 });
    const { http } = client({ pacer });
    const origin = new URL(url).origin;
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, k) =>
        failure(http.request(`${url}/x${k}`, { token: `t${k}` })),
      ),
    );
    // One at a time, in order: the third was refused in a busy window and blocked the origin.
    expect(Math.max(...seen.map((s) => s.inFlight))).toBe(1);
    expect(results.map((r) => (r instanceof RejectedError ? r.status : "ok"))).toEqual([
      "ok",
      "ok",
      403,
      403,
    ]);
    expect(seen[3]!.at - seen[2]!.at).toBeGreaterThanOrEqual(1990);
    // The fourth came after the block, a quiet window: a refusal that blocks nothing.
    expect(pacer.blockedUntil(origin)).toBeUndefined();
  });

  it("unblock lifts a block that wasn't the limit and wakes whoever waits on it", async () => {
    const { url, seen } = await counting((n) => (n === 2 ? 403 : 200));
    const pacer = new Pacer(10);
    pacer.rule(url, { limit: 100, windowMs: 60_000, ambiguousStatus: 403, blockMs: 60_000 });
    const { http } = client({ pacer });
    const origin = new URL(url).origin;
    await http.request(`${url}/a`);
    expect(await failure(http.request(`${url}/b`))).toBeInstanceOf(RejectedError);
    expect(pacer.blockedUntil(origin)?.getTime()).toBeGreaterThan(Date.now() + 50_000);
    const waiting = http.request(`${url}/c`);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(2);
    pacer.unblock(origin);
    await waiting;
    expect(seen).toHaveLength(3);
    expect(pacer.blockedUntil(origin)).toBeUndefined();
  });
});
