/**
 * The steps that ask for secrets, on a channel that can't carry them (a Mastodon DM): no
 * "paste a token" offered, nothing typed used as a token, OAuth or the bot's one-time page
 * offered instead — decided by the channel's traits, not by which channel it is.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import type { ChannelTraits } from "../../src/chat/channel.js";
import { makeChat } from "../helpers/chat.js";

let sandbox: MastodonSandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

const NO_SECRETS: ChannelTraits = { secretsInChat: false, files: "none" };

async function chatAtSignIn(traits: ChannelTraits) {
  sandbox = await startMastodonSandbox({ domain: "old.example", rateLimit: null });
  sandbox.addAccount({ username: "ada" });
  const chat = await makeChat({
    microblogUrl: "http://127.0.0.1:9",
    microblogDomain: "mb.example",
  });
  chat.engine.channels = () => traits;
  await chat.send("/start");
  const r = await chat.send(sandbox.url);
  return { chat, signIn: r };
}

describe("a channel where secrets can't go", () => {
  it("offers no token at sign-in, and a token step takes nothing typed", async () => {
    const { chat, signIn } = await chatAtSignIn(NO_SECRETS);
    expect(signIn.text).toMatch(/Tap to let me read your account/);
    const r = signIn.replies[0]!;
    expect(r.kind === "say" && r.choices?.map((c) => c.label)).toEqual(["Upload a file instead"]);
    expect((await chat.send({ kind: "choice", id: "token", seq: chat.seq })).text).toMatch(
      /Tap to let me read your account/,
    );
    expect((await chat.state())?.step).toBe("old-sign-in");
  });

  it("an old-token step reached anyway refuses what is typed and offers the sign-in link", async () => {
    sandbox = await startMastodonSandbox({ domain: "old.example", rateLimit: null });
    sandbox.addAccount({ username: "ada" });
    const chat = await makeChat({});
    await chat.send("/start");
    await chat.send(sandbox.url);
    await chat.press("Paste a token instead");
    chat.engine.channels = () => NO_SECRETS;
    const token = sandbox.issueToken("ada", ["read"]);
    const refused = await chat.send(token);
    expect(refused.text).toMatch(/I can't take an access token in this chat/);
    expect(refused.text).not.toContain(token);
    expect((await chat.state())?.step).toBe("old-token");
    const back = await chat.press("Sign in by link");
    expect(back.text).toMatch(/Tap to let me read your account/);
  });

  it("micro.blog: a one-time page where the channel has one, else the import by hand", async () => {
    let form = 0;
    const withPage: ChannelTraits = {
      ...NO_SECRETS,
      secretForm: async () => ({ url: `https://bot.example/f/${++form}`, expiresAt: 0 }),
    };
    for (const traits of [withPage, NO_SECRETS]) {
      const { chat } = await chatAtSignIn(traits);
      await chat.press("Upload a file instead");
      const read = await chat.send("friend@far.example");
      // With a page for the token, micro.blog is asked for at once; without, the person chooses.
      const asked = traits.secretForm ? read : await chat.press("micro.blog");
      if (traits.secretForm) {
        expect(asked.replies.at(-1)).toMatchObject({
          choices: [{ label: "A new link" }, { label: "Another server instead" }],
        });
        expect(asked.text).toMatch(/a token must never go into this chat/);
        const r = asked.replies.at(-1)!;
        expect(r.kind === "say" && r.links?.[0]?.url).toBe("https://bot.example/f/1");
      } else {
        expect(asked.text).toMatch(/no web page to take it safely/);
        expect(asked.text).toMatch(/Import Follows/);
      }
      expect((await chat.send("8F3A2B1C9D0E7F6A5B4C")).text).not.toMatch(/Connected/);
      expect((await chat.state())?.step).toBe("new-microblog");
      await sandbox?.close();
      sandbox = undefined;
    }
  });
});
