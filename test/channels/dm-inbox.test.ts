/**
 * The DM inbox takes a notification in once, even when the stream and the catch-up both
 * asked whether it was known before either had taken it.
 */
import { describe, expect, it } from "vitest";
import { Inbox, type Item } from "../../src/channels/mastodon-dm/inbox.js";
import { openMemoryStore } from "../../src/store/memory-store.js";

const item = (id: string): Item => ({
  id,
  user: "mastodon:https://far.example/users/ada",
  acct: "ada@far.example",
  replyTo: `s${id}`,
  phase: "received",
  posts: [],
  posted: [],
});

describe("the DM inbox", () => {
  it("takes one notification in once when two sources hand it over at the same moment", async () => {
    const inbox = new Inbox(openMemoryStore("dm-inbox-race"), "bot");
    await inbox.load();
    expect([inbox.known("7"), inbox.known("7")]).toEqual([false, false]);
    await Promise.all([inbox.take("7", item("7")), inbox.take("7", item("7"))]);
    expect(inbox.itemsOf("mastodon:https://far.example/users/ada")).toHaveLength(1);
    expect(inbox.known("7")).toBe(true);
  });
});
