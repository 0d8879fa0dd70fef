/**
 * The Mastodon stand-in as a bot that answers direct messages sees it: statuses with
 * visibility, replies, mentions, Idempotency-Key, the character limit as Mastodon counts it
 * and the posting limit; notifications with their cursors and Link headers; the 4.3
 * notification policy; update_credentials.
 */
import { describe, expect, it } from "vitest";
import {
  type MastodonSandbox,
  type MastodonSandboxOptions,
  startMastodonSandbox,
} from "../../sandbox/mastodon.js";
import { closedAfterEach } from "../helpers/closing.js";

const closing = closedAfterEach<MastodonSandbox>();

/** The parts of the API's answers these tests read (an object, or a list of them). */
interface Fields {
  id: string;
  error?: string;
  visibility?: string;
  in_reply_to_id?: string | null;
  mentions: { acct: string }[];
  content: string;
  bot?: boolean;
  type?: string;
  status: Fields;
  for_private_mentions?: string;
  configuration: { statuses: Record<string, number> };
}
type Answer = Fields & Fields[];

const BOT_SCOPES = [
  "read:notifications",
  "read:statuses",
  "write:statuses",
  "write:accounts",
  "write:notifications",
];

async function withBot(opts: MastodonSandboxOptions = {}) {
  const sb = closing(
    await startMastodonSandbox({ domain: "bots.example", rateLimit: null, ...opts }),
  );
  const bot = sb.addAccount({ username: "movebot" });
  sb.addAccount({ username: "ada" });
  const token = sb.issueToken("movebot", BOT_SCOPES);
  const call = async (
    method: string,
    path: string,
    form?: Record<string, string>,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${sb.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(form ? { "Content-Type": "application/x-www-form-urlencoded" } : {}),
        ...headers,
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const text = await res.text();
    return {
      res,
      status: res.status,
      body: (text.startsWith("<") ? {} : JSON.parse(text)) as Answer,
    };
  };
  return { sb, bot, token, call };
}

describe("POST /api/v1/statuses", () => {
  it("posts a direct reply that mentions the person, threaded, and only they and the author see it", async () => {
    const { sb, call } = await withBot();
    sb.addAccount({ username: "eve" });
    const dm = sb.postAs("ada", "@movebot hello there", { visibility: "direct" });
    const { status, body } = await call("POST", "/api/v1/statuses", {
      status: "@ada@bots.example hi Ada",
      visibility: "direct",
      in_reply_to_id: dm.id,
    });
    expect(status).toBe(200);
    expect(body.visibility).toBe("direct");
    expect(body.in_reply_to_id).toBe(dm.id);
    expect(body.mentions.map((m) => m.acct)).toEqual(["ada"]);
    expect(body.content).toContain('class="u-url mention"');
    expect(sb.mentioning("ada").map((s) => s.id)).toEqual([body.id]);
    const eveToken = sb.issueToken("eve", ["read"]);
    const seen = await fetch(`${sb.url}/api/v1/statuses/${body.id}`, {
      headers: { Authorization: `Bearer ${eveToken}` },
    });
    expect(seen.status).toBe(404);
  });

  it("returns the same status for the same Idempotency-Key, and posts a new one for a new key", async () => {
    const { sb, call } = await withBot();
    const post = (key: string) =>
      call(
        "POST",
        "/api/v1/statuses",
        { status: "@ada once", visibility: "direct" },
        { "Idempotency-Key": key },
      );
    const a = await post("k1");
    const b = await post("k1");
    const c = await post("k2");
    expect(b.body.id).toBe(a.body.id);
    expect(c.body.id).not.toBe(a.body.id);
    expect(sb.mentioning("ada")).toHaveLength(2);
  });

  it("counts URLs as 23 and mentions without their domain against max_characters", async () => {
    const { call } = await withBot({ maxCharacters: 60 });
    const url = `https://example.com/${"a".repeat(200)}`;
    // 23 for the URL, "@ada" (4) for the mention, and the rest as written.
    const fits = `@ada@bots.example ${url} ${"x".repeat(60 - 4 - 1 - 23 - 1)}`;
    expect((await call("POST", "/api/v1/statuses", { status: fits })).status).toBe(200);
    const over = await call("POST", "/api/v1/statuses", { status: `${fits}x` });
    expect(over.status).toBe(422);
    expect(over.body.error).toBe("Validation failed: Text character limit of 60 exceeded");
    const v2 = await call("GET", "/api/v2/instance");
    expect(v2.body.configuration.statuses).toMatchObject({
      max_characters: 60,
      characters_reserved_per_url: 23,
    });
  });

  it("refuses a blank status and a reply to a status that doesn't exist", async () => {
    const { call } = await withBot();
    expect((await call("POST", "/api/v1/statuses", { status: "  " })).status).toBe(422);
    const missing = await call("POST", "/api/v1/statuses", { status: "hi", in_reply_to_id: "1" });
    expect(missing.status).toBe(404);
  });

  it("limits an account to its statuses per window, with the family's headers and a 429 past it", async () => {
    const { sb, call } = await withBot();
    sb.setStatusLimit({ limit: 2, periodMs: 3 * 3_600_000 });
    const first = await call("POST", "/api/v1/statuses", { status: "one" });
    expect(first.res.headers.get("x-ratelimit-limit")).toBe("2");
    expect(first.res.headers.get("x-ratelimit-remaining")).toBe("1");
    await call("POST", "/api/v1/statuses", { status: "two" });
    const third = await call("POST", "/api/v1/statuses", { status: "three" });
    expect(third.status).toBe(429);
    expect(third.body).toEqual({ error: "Too many requests" });
    expect(third.res.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(Date.parse(third.res.headers.get("x-ratelimit-reset")!)).toBeGreaterThan(Date.now());
  });

  it("needs write:statuses", async () => {
    const { sb } = await withBot();
    const readOnly = sb.issueToken("movebot", ["read"]);
    const res = await fetch(`${sb.url}/api/v1/statuses`, {
      method: "POST",
      headers: { Authorization: `Bearer ${readOnly}`, "Content-Type": "application/json" },
      body: JSON.stringify({ status: "hi" }),
    });
    expect(res.status).toBe(403);
  });
});

describe("notifications", () => {
  it("lists mentions newest first with since_id, min_id, types[] and Link headers", async () => {
    const { sb, call } = await withBot({ version: "4.2.10" });
    const ids = [1, 2, 3].map(
      (k) => sb.postAs("ada", `@movebot message ${k}`, { visibility: "direct" }).id,
    );
    const all = await call("GET", "/api/v1/notifications?types[]=mention&limit=2");
    expect(all.body.map((n) => n.status.id)).toEqual([ids[2], ids[1]]);
    const link = all.res.headers.get("link")!;
    expect(link).toContain('rel="next"');
    expect(link).toContain("limit=2");
    expect(link).toContain("types%5B%5D=mention");
    const first = all.body[1]!.id;
    // min_id: the page immediately newer than the cursor.
    const newer = await call("GET", `/api/v1/notifications?min_id=${Number(first) - 1}&limit=1`);
    expect(newer.body.map((n) => n.status.id)).toEqual([ids[1]]);
    const since = await call("GET", `/api/v1/notifications?since_id=${all.body[0]!.id}`);
    expect(since.body).toEqual([]);
    expect(since.res.headers.get("link")).toBeNull();
    const payload = all.body[0]!;
    expect(payload).toMatchObject({ type: "mention", account: { acct: "ada" } });
    expect(payload.status.content).toContain("message 3");
  });

  it("on 4.3 filters a stranger's private mention until the policy accepts private mentions", async () => {
    const { sb, call } = await withBot({ version: "4.3.2" });
    sb.postAs("ada", "@movebot first", { visibility: "direct" });
    expect((await call("GET", "/api/v1/notifications")).body).toEqual([]);
    expect((await call("GET", "/api/v1/notifications?include_filtered=true")).body).toHaveLength(1);
    const policy = await call("GET", "/api/v2/notifications/policy");
    expect(policy.body).toMatchObject({
      for_private_mentions: "filter",
      for_not_following: "accept",
    });
    const patched = await call("PATCH", "/api/v2/notifications/policy", {
      for_private_mentions: "accept",
      for_not_following: "accept",
    });
    expect(patched.body.for_private_mentions).toBe("accept");
    sb.postAs("ada", "@movebot second", { visibility: "direct" });
    const listed = await call("GET", "/api/v1/notifications");
    expect(listed.body.map((n) => n.status.content)).toEqual([expect.stringContaining("second")]);
    expect(
      (await call("PATCH", "/api/v2/notifications/policy", { for_private_mentions: "maybe" }))
        .status,
    ).toBe(422);
  });

  it("has no policy endpoint before 4.3", async () => {
    const { call } = await withBot({ version: "4.2.10" });
    expect((await call("GET", "/api/v2/notifications/policy")).status).toBe(404);
  });
});

describe("PATCH /api/v1/accounts/update_credentials", () => {
  it("marks the account as a bot", async () => {
    const { sb, call } = await withBot();
    const { status, body } = await call("PATCH", "/api/v1/accounts/update_credentials", {
      bot: "true",
    });
    expect(status).toBe(200);
    expect(body.bot).toBe(true);
    expect(sb.getAccount("movebot")?.bot).toBe(true);
  });
});
