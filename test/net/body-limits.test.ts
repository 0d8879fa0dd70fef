/**
 * Every body has a cap, counted after decompression as it streams: a server that sends a gzip
 * bomb or an endless body gets a clear error, and the bot stops reading and hangs up long
 * before the server is done (the server sees the connection close with most of it unsent).
 */
import type http from "node:http";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BODY_LIMITS } from "../../src/net/body-limits.js";
import { BadResponseError, RejectedError, TooLargeError } from "../../src/net/errors.js";
import { explainRemote } from "../../src/steps/lib/explain.js";
import { client, serve } from "./serve.js";

const MB = 1024 * 1024;

/** What a streaming server got out before the client hung up. */
interface Stream {
  url: string;
  /** Chunks written (each `chunkBytes` once decompressed). */
  sent: () => number;
  /** Resolves when the connection closed, with whether the server had finished. */
  closed: Promise<{ finished: boolean }>;
}

/**
 * A server that writes `chunk` up to `count` times, waiting for the socket to drain as a real
 * server would, and notes when the client closes the connection.
 */
async function streaming(
  chunk: Buffer,
  count: number,
  headers: Record<string, string>,
  status = 200,
): Promise<Stream> {
  let sent = 0;
  let done: (v: { finished: boolean }) => void = () => undefined;
  const closed = new Promise<{ finished: boolean }>((r) => {
    done = r;
  });
  const url = await serve((_req, res: http.ServerResponse) => {
    res.writeHead(status, headers);
    let finished = false;
    res.on("close", () => done({ finished }));
    const pump = () => {
      while (!res.destroyed && sent < count) {
        sent += 1;
        if (!res.write(chunk)) {
          res.once("drain", pump);
          return;
        }
      }
      if (!res.destroyed) {
        finished = true;
        res.end();
      }
    };
    pump();
  });
  return { url, sent: () => sent, closed };
}

describe("response bodies have a cap", () => {
  it("stops a gzip bomb after the cap, counted decompressed, and hangs up", async () => {
    // Each gzip member inflates to 1 MB of zeros from ~1 KB; 100,000 of them would be 100 GB.
    const member = gzipSync(Buffer.alloc(MB));
    const total = 100_000;
    const bomb = await streaming(member, total, {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    const { http } = client({ timeoutMs: 30_000 });
    const err = await http
      .json(`${bomb.url}/.well-known/webfinger`, z.unknown(), {
        maxBytes: BODY_LIMITS.webfinger,
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TooLargeError);
    expect(err.message).toBe(`${new URL(bomb.url).host} answered with more than 64 KB`);
    expect(explainRemote(err, "bomb.example")).toBe(
      "bomb.example sent far more than that answer can be, so I stopped reading. Try again later; if it keeps happening, its admins may want to know.",
    );
    expect(err.path).toBe("/.well-known/webfinger");
    expect(await bomb.closed).toEqual({ finished: false });
    // What the socket buffers took before the hang-up, and not a byte more was asked for.
    expect(bomb.sent()).toBeLessThan(total / 10);
  });

  it("stops an endless plain body after the cap and hangs up", async () => {
    const total = 16 * 1024; // 64 KB chunks: 1 GB
    const endless = await streaming(Buffer.alloc(64 * 1024, "a"), total, {
      "content-type": "text/plain",
    });
    const { http } = client({ timeoutMs: 30_000 });
    const err = await http.request(`${endless.url}/x`, { maxBytes: MB }).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toBe(`${new URL(endless.url).host} answered with more than 1 MB`);
    expect(await endless.closed).toEqual({ finished: false });
    expect(endless.sent()).toBeLessThan(total / 10);
  });

  it("refuses a body whose Content-Length is over the cap without reading it", async () => {
    const total = 1024;
    const declared = await streaming(Buffer.alloc(64 * 1024, "a"), total, {
      "content-type": "application/json",
      "content-length": String(total * 64 * 1024),
    });
    const { http } = client();
    const err = await http
      .json(`${declared.url}/x`, z.unknown(), { maxBytes: 256 * 1024 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toMatch(/answered with more than 256 KB$/);
    expect(await declared.closed).toEqual({ finished: false });
  });

  it("applies the default cap to a call that names none", async () => {
    const chunks = (8 * BODY_LIMITS.default) / (64 * 1024);
    const big = await streaming(Buffer.alloc(64 * 1024, "a"), chunks, {
      "content-type": "text/plain",
    });
    const { http } = client({ timeoutMs: 30_000 });
    const err = await http.request(`${big.url}/x`).catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toMatch(/answered with more than 8 MB$/);
    expect(await big.closed).toEqual({ finished: false });
  });

  it("reads a body of exactly the cap, compressed or not", async () => {
    const doc = JSON.stringify({ pad: "x".repeat(64 * 1024 - 10) });
    expect(doc.length).toBe(64 * 1024);
    const url = await serve((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/gzip") {
        res.setHeader("content-encoding", "gzip");
        res.end(gzipSync(doc));
      } else res.end(doc);
    });
    const { http } = client();
    const schema = z.object({ pad: z.string() });
    for (const path of ["/plain", "/gzip"]) {
      const res = await http.json(`${url}${path}`, schema, { maxBytes: 64 * 1024 });
      expect(res.data.pad.length).toBe(64 * 1024 - 10);
    }
  });

  it("reads only the start of a huge error page: the refusal, with its text", async () => {
    const total = 16 * 1024;
    const page = Buffer.concat([
      Buffer.from(JSON.stringify({ error: "Record not found" }).slice(0, -1)),
      Buffer.alloc(64 * 1024 - 30, " "),
    ]);
    const errorPage = await streaming(page, total, { "content-type": "text/plain" }, 404);
    const { http } = client({ timeoutMs: 30_000 });
    const err = await http.request(`${errorPage.url}/x`).catch((e) => e);
    expect(err).toBeInstanceOf(RejectedError);
    expect(err.status).toBe(404);
    expect(err.detail).toMatch(/^\{"error":"Record not found"/);
    expect(await errorPage.closed).toEqual({ finished: false });
    expect(errorPage.sent()).toBeLessThan(total / 10);
  });
});
