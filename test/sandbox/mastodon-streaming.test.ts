/**
 * The stand-in's streaming API as a WebSocket client sees it: token by header, query or
 * Sec-WebSocket-Protocol; notification events with the payload as a JSON string; connections
 * cut on demand; a streaming server that is down.
 */
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();

async function withBot() {
  const sb = closing(
    await startMastodonSandbox({ domain: "bots.example", rateLimit: null, version: "4.2.10" }),
  );
  sb.addAccount({ username: "movebot" });
  sb.addAccount({ username: "ada" });
  const token = sb.issueToken("movebot", ["read:notifications", "read:statuses"]);
  const wsUrl = sb.url.replace(/^http/, "ws");
  return { sb, token, wsUrl };
}

/** Opens a socket and collects its messages; resolves once open (or with the refusal's status). */
function open(url: string, opts: WebSocket.ClientOptions = {}, protocols?: string[]) {
  const socket = new WebSocket(url, protocols, opts);
  const messages: Record<string, unknown>[] = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  const opened = new Promise<number>((resolve) => {
    socket.once("open", () => resolve(101));
    socket.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    socket.once("error", () => resolve(0));
  });
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  return { socket, messages, opened, closed };
}

async function until(check: () => boolean): Promise<void> {
  for (let k = 0; k < 200 && !check(); k++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

/** The bot with its notifications stream open (token by header), counted by the stand-in. */
async function streamingBot() {
  const bot = await withBot();
  const ws = open(`${bot.wsUrl}/api/v1/streaming?stream=user:notification`, {
    headers: { Authorization: `Bearer ${bot.token}` },
  });
  expect(await ws.opened).toBe(101);
  await until(() => bot.sb.streamConnections() === 1);
  return { ...bot, ws };
}

describe("streaming API", () => {
  it("sends a mention as a notification event whose payload is a JSON string", async () => {
    const { sb, ws } = await streamingBot();
    const dm = sb.postAs("ada", "@movebot hello", { visibility: "direct" });
    await until(() => ws.messages.length === 1);
    const event = ws.messages[0]!;
    expect(event.stream).toEqual(["user:notification"]);
    expect(event.event).toBe("notification");
    expect(typeof event.payload).toBe("string");
    const payload: unknown = JSON.parse(String(event.payload));
    expect(payload).toMatchObject({ type: "mention", status: { id: dm.id, visibility: "direct" } });
    ws.socket.close();
  });

  it("takes the token from access_token or Sec-WebSocket-Protocol, and subscribes by message", async () => {
    const { sb, token, wsUrl } = await withBot();
    const byQuery = open(
      `${wsUrl}/api/v1/streaming?access_token=${token}&stream=user:notification`,
    );
    expect(await byQuery.opened).toBe(101);
    const byProtocol = open(`${wsUrl}/api/v1/streaming`, {}, [token]);
    expect(await byProtocol.opened).toBe(101);
    byProtocol.socket.send(JSON.stringify({ type: "subscribe", stream: "user:notification" }));
    await until(() => sb.streamConnections() === 2);
    sb.postAs("ada", "@movebot hi", { visibility: "direct" });
    await until(() => byQuery.messages.length === 1 && byProtocol.messages.length === 1);
    byQuery.socket.close();
    byProtocol.socket.close();
  });

  it("closes a revoked token's connections at once, as Mastodon's kill message does", async () => {
    const { sb, token, wsUrl, ws } = await streamingBot();
    sb.revokeToken(token);
    // Nothing is posted: the close comes from the revocation itself.
    expect(await ws.closed).toBeGreaterThan(0);
    expect(sb.streamConnections()).toBe(0);
    expect(
      await open(`${wsUrl}/api/v1/streaming?stream=user:notification&access_token=${token}`).opened,
    ).toBe(401);
  });

  it("refuses a connection without a valid token, and an unknown stream on the socket", async () => {
    const { token, wsUrl } = await withBot();
    expect(await open(`${wsUrl}/api/v1/streaming?stream=user:notification`).opened).toBe(401);
    expect(await open(`${wsUrl}/api/v1/streaming?access_token=nope`).opened).toBe(401);
    const ws = open(`${wsUrl}/api/v1/streaming?access_token=${token}&stream=bogus`);
    await until(() => ws.messages.length === 1);
    expect(ws.messages[0]).toEqual({ error: "Unknown stream type", status: 400 });
    ws.socket.close();
  });

  it("drops connections on demand, and answers 502 while streaming is down", async () => {
    const { sb, token, wsUrl } = await withBot();
    const url = `${wsUrl}/api/v1/streaming?access_token=${token}&stream=user:notification`;
    const ws = open(url);
    await ws.opened;
    await until(() => sb.streamConnections() === 1);
    expect(sb.dropStreams()).toBe(1);
    expect(await ws.closed).toBe(1006);
    sb.setStreamingAvailable(false);
    expect(await open(url).opened).toBe(502);
    sb.setStreamingAvailable(true);
    const again = open(url);
    expect(await again.opened).toBe(101);
    again.socket.close();
  });
});
