/**
 * The Mastodon DM channel as a person on Mastodon meets it: every answer direct, threaded to
 * their message and mentioning them; numbered options; a public mention pointed to DMs; bots
 * ignored; a long answer as a chain within the server's limit.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { countableLength } from "../../sandbox/mastodon-status-text.js";
import { say } from "../../src/chat/conversation.js";
import { botSaid, type DmBot, plainOf, startDmBot, until } from "./dm-helpers.js";

const sandboxes: MastodonSandbox[] = [];
const bots: DmBot[] = [];
// The bots stop before their servers.
afterEach(async () => {
  for (const b of bots.splice(0)) await b.close();
  for (const s of sandboxes.splice(0)) await s.close();
});
function closing(sb: MastodonSandbox): MastodonSandbox {
  sandboxes.push(sb);
  return sb;
}
function stopping(bot: DmBot): DmBot {
  bots.push(bot);
  return bot;
}

async function setup(version = "4.3.2") {
  const sb = closing(
    await startMastodonSandbox({ domain: "bots.example", rateLimit: null, version }),
  );
  sb.addAccount({ username: "movebot" });
  sb.addAccount({ username: "ada" });
  const bot = stopping(await startDmBot(sb));
  return { sb, bot };
}

describe("Mastodon DM channel", () => {
  it("answers a direct message directly, threaded and mentioning the person, and takes numbered answers", async () => {
    const { sb } = await setup();
    expect(sb.getAccount("movebot")?.bot).toBe(true);
    expect(sb.notificationPolicy("movebot").for_private_mentions).toBe("accept");
    const hi = sb.postAs("ada", "@movebot hello", { visibility: "direct" });
    const [first] = await until(
      () => botSaid(sb, "ada"),
      (s) => s.length >= 1,
    );
    expect(first!.visibility).toBe("direct");
    expect(first!.in_reply_to_id).toBe(hi.id);
    expect(first!.mentions.map((m) => (m as { acct: string }).acct)).toEqual(["ada"]);
    const text = plainOf(first!.content);
    expect(text).toContain("Hi! I'll move your Mastodon account");
    expect(text).toContain("Which Mastodon server is your account on?");
    expect(text).toContain("1 · What changes exactly?");

    sb.postAs("ada", "@movebot 1", { visibility: "direct", inReplyToId: first!.id });
    const said = await until(
      () => botSaid(sb, "ada"),
      (s) => s.length >= 2,
    );
    expect(plainOf(said[1]!.content)).toContain("Before you start");
  });

  it("points a public mention to DMs, and ignores bots", async () => {
    const { sb } = await setup();
    sb.addAccount({ username: "robot", bot: true });
    sb.postAs("robot", "@movebot hello", { visibility: "direct" });
    sb.postAs("ada", "@movebot can you help?", { visibility: "public" });
    const [reply] = await until(
      () => botSaid(sb, "ada"),
      (s) => s.length >= 1,
    );
    expect(reply!.visibility).toBe("direct");
    expect(plainOf(reply!.content)).toContain("I only talk in private");
    await new Promise((r) => setTimeout(r, 500));
    expect(botSaid(sb, "robot")).toEqual([]);
    expect(botSaid(sb, "ada")).toHaveLength(1);
  });

  it("sends a long answer as a chain within max_characters, each part replying to the one before", async () => {
    const { sb } = await setup();
    sb.postAs("ada", "@movebot hi", { visibility: "direct" });
    await until(
      () => botSaid(sb, "ada"),
      (s) => s.length >= 1,
    );
    sb.postAs("ada", "@movebot What changes exactly?", { visibility: "direct" });
    const chain = await until(
      () => botSaid(sb, "ada"),
      (s) => s.length >= 3 && plainOf(s.at(-1)!.content).includes("micro.blog is different"),
    );
    const parts = chain.slice(1);
    expect(parts.length).toBeGreaterThan(1);
    for (const [k, p] of parts.entries()) {
      expect(p.visibility).toBe("direct");
      if (k > 0) expect(p.in_reply_to_id).toBe(parts[k - 1]!.id);
      expect(plainOf(p.content)).toMatch(new RegExp(`\\(${k + 1}/${parts.length}\\)$`));
    }
  });
});

describe("Mastodon DM channel, outside a turn", () => {
  it("posts a job's 2,000-character report as one threaded chain within the limit", async () => {
    const sb = closing(
      await startMastodonSandbox({ domain: "bots.example", rateLimit: null, maxCharacters: 300 }),
    );
    sb.addAccount({ username: "movebot" });
    sb.addAccount({ username: "ada" });
    const bot = stopping(await startDmBot(sb));
    const hi = sb.postAs("ada", "@movebot hello", { visibility: "direct" });
    await until(
      () => botSaid(sb, "ada"),
      (s) => s.length >= 1,
    );
    const user = `mastodon:${sb.actorUri("ada")}` as const;
    const report = Array.from({ length: 300 }, (_, k) => `item${k}`)
      .join(" ")
      .slice(0, 2000);
    await bot.channel.notify(user, [say([report])]);
    const chain = await until(
      () => botSaid(sb, "ada").filter((p) => p.content.includes("item")),
      (s) => s.length > 0 && /\((\d+)\/\1\)$/.test(plainOf(s.at(-1)!.content)),
    );
    expect(chain.length).toBeGreaterThanOrEqual(7);
    expect(chain[0]!.in_reply_to_id).toBe(hi.id);
    for (const [k, p] of chain.entries()) {
      if (k > 0) expect(p.in_reply_to_id).toBe(chain[k - 1]!.id);
      expect(p.visibility).toBe("direct");
      expect(countableLength(plainOf(p.content))).toBeLessThanOrEqual(300);
    }
    const joined = chain
      .map((p) =>
        plainOf(p.content)
          .replace(/^@ada /, "")
          .replace(/ \(\d+\/\d+\)$/, ""),
      )
      .join(" ");
    expect(joined).toBe(report);
  });
});
