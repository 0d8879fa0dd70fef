import type { Server } from "node:http";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startWeb, type WebLimits } from "../../src/channels/web/server.js";

let web: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (web ? web.close(r) : r(undefined)));
  web = undefined;
});

async function serve(limits?: Partial<WebLimits>) {
  const started = await startWeb(
    {
      callback: async () => ({ status: 200, title: "You're signed in", body: "" }),
      oneTime: async () => ({ status: 200, title: "Uploaded", body: "" }),
    },
    { host: "127.0.0.1", port: 0, ...(limits ? { limits } : {}) },
  );
  web = started.server;
  return new URL(started.url);
}

/** Writes raw bytes to the server and reads until it closes: what any client on the Internet can do. */
function raw(at: URL, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(at.port), at.hostname, () => socket.write(bytes, "latin1"));
    let got = "";
    socket.setEncoding("latin1");
    socket.on("data", (d) => {
      got += d;
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

const statusLine = (answer: string) => answer.split("\r\n")[0];

describe("the web side's answers to malformed requests", () => {
  const targets = [
    "http://",
    "//[",
    "http://[::1",
    "http://a:99999/",
    "https://user@/",
    "http://%zz/",
  ];
  for (const target of targets) {
    it(`GET ${target} gets a 400 and the server keeps answering`, async () => {
      const at = await serve();
      const answer = await raw(
        at,
        `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(statusLine(answer)).toBe("HTTP/1.1 400 Bad Request");
      expect(answer).toContain("<h1>Bad request</h1>");
      const health = await fetch(new URL("/healthz", at));
      expect(await health.text()).toBe("ok");
    });
  }

  it("garbage request lines and headers get a 400, never a crash", async () => {
    const at = await serve();
    const garbage = [
      "\x00\x01\x02\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "POST /u/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: x\r\nX: ${"b".repeat(20_000)}\r\n\r\n`,
    ];
    for (const g of garbage) {
      const answer = await raw(at, g);
      expect(statusLine(answer)).toMatch(/^HTTP\/1\.1 4\d\d /);
    }
    const health = await fetch(new URL("/healthz", at));
    expect(await health.text()).toBe("ok");
  });
});

describe("the web side's limits", () => {
  it("a body declared past the upload limit is refused before it is read", async () => {
    const at = await serve();
    const answer = await raw(
      at,
      "POST /u/abc HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n--b\r\n",
    );
    expect(statusLine(answer)).toBe("HTTP/1.1 413 Payload Too Large");
    expect(answer.toLowerCase()).toContain("connection: close");
  });

  it("a socket that never finishes its headers is closed", async () => {
    const at = await serve({ headersTimeoutMs: 200 });
    // Sends half a request line and waits: raw() returns only once the server hangs up.
    const answer = await raw(at, "GET /healthz HTT");
    expect(answer === "" || statusLine(answer) === "HTTP/1.1 408 Request Timeout").toBe(true);
  });
});
