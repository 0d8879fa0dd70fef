/**
 * Many requests to one server at once share a few connections: the rest wait their
 * turn in the client instead of each opening a socket (10,000 watches did, and the
 * process ran out of file descriptors).
 */
import { describe, expect, it } from "vitest";
import { CONNECTIONS_PER_ORIGIN } from "../../src/net/dispatcher.js";
import { client, serve, servers } from "./serve.js";

describe("connections per server", () => {
  it("sixty requests at once reach the server over at most the cap of connections, and all are answered", async () => {
    let open = 0;
    let most = 0;
    const url = await serve((_req, res) => {
      setTimeout(() => res.end("ok"), 20);
    });
    servers[0]!.on("connection", (socket) => {
      open += 1;
      most = Math.max(most, open);
      socket.on("close", () => {
        open -= 1;
      });
    });
    const { http } = client();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => http.request(`${url}/r${i}`)),
    );
    expect(answers.filter((a) => a.ok && a.data === "ok")).toHaveLength(60);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(CONNECTIONS_PER_ORIGIN);
  });
});
