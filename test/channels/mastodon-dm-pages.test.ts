/**
 * What a direct message can't carry, on the bot's one-time pages, and the posting limit: the
 * follows file uploaded on a page bound to the person (used once), and an answer longer than
 * the posts the window has left, with the wait announced and nothing dropped.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { oneTimeRoutes } from "../../src/channels/web/one-time-routes.js";
import { say } from "../../src/chat/conversation.js";
import { botSaid, type DmBot, plainOf, startDmBot, until } from "./dm-helpers.js";

const sandboxes: MastodonSandbox[] = [];
const bots: DmBot[] = [];
afterEach(async () => {
  for (const b of bots.splice(0)) await b.close();
  for (const s of sandboxes.splice(0)) await s.close();
});

async function setup(publicUrl?: string) {
  const sb = await startMastodonSandbox({ domain: "bots.example", rateLimit: null });
  sandboxes.push(sb);
  sb.addAccount({ username: "movebot" });
  sb.addAccount({ username: "ada" });
  const bot = await startDmBot(sb, publicUrl ? { publicUrl } : {});
  bots.push(bot);
  const latest = () => plainOf(botSaid(sb, "ada").at(-1)?.content ?? "").replaceAll("\u200B", "");
  const send = async (text: string, expect: RegExp) => {
    const before = botSaid(sb, "ada").length;
    sb.postAs("ada", `@movebot ${text}`, { visibility: "direct" });
    await until(latest, (t) => botSaid(sb, "ada").length > before && expect.test(t));
    return latest();
  };
  return { sb, bot, send, latest };
}

describe("one-time pages", () => {
  it("takes the follows file on the person's upload page, once", async () => {
    const { bot, send } = await setup("https://fedimove.example");
    await send("hi", /Which Mastodon server/);
    await send(sandboxes[0]!.url, /Tap to let me read your account/);
    const asked = await send("Upload a file instead", /This chat can't carry a file/);
    const id = /https:\/\/fedimove\.example\/u\/([A-Za-z0-9_-]+)/.exec(asked)![1]!;
    const routes = oneTimeRoutes({ pages: bot.pages!, engine: bot.engine });
    expect(await routes({ method: "GET", kind: "u", id })).toMatchObject({ status: 200 });
    const form = new FormData();
    form.set("file", new File(["friend@far.example\npal@near.example\n"], "handles.txt"));
    expect(await routes({ method: "POST", kind: "u", id, form })).toMatchObject({ title: "Sent" });
    await until(
      () => botSaid(sandboxes[0]!, "ada").map((s) => plainOf(s.content)),
      (t) => t.some((x) => x.includes("Read 2 accounts from handles.txt")),
    );
    expect(await routes({ method: "POST", kind: "u", id, form })).toMatchObject({ status: 410 });
  });
});

describe("the posting limit", () => {
  it("announces the wait when the window runs out mid-answer, then posts the rest", async () => {
    const { sb, bot, send } = await setup();
    await send("hi", /Which Mastodon server/);
    sb.setStatusLimit({ limit: 3, periodMs: 4000 });
    const user = `mastodon:${sb.actorUri("ada")}` as const;
    const long = Array.from({ length: 200 }, (_, k) => `line${k}`).join(" ");
    await bot.channel.notify(user, [say([long])]);
    const posts = await until(
      () => botSaid(sb, "ada").map((s) => plainOf(s.content)),
      (t) => t.some((x) => /\((\d+)\/\1\)$/.test(x) && x.includes("line")),
      20_000,
    );
    const parts = posts.filter((x) => x.includes("line"));
    const total = Number(/\/(\d+)\)$/.exec(parts[0]!)![1]);
    expect(parts).toHaveLength(total);
    expect(total).toBeGreaterThan(3);
    expect(posts.some((x) => /the rest of this answer follows at about/.test(x))).toBe(true);
  });
});
