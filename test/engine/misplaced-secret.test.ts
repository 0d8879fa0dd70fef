/**
 * A token or a code pasted at a step that asks for neither: refused before the step reads it,
 * never stored or echoed, the message deleted where the channel can, and the person told why.
 * Steps that do ask for one still take it.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { MastodonAccountClient } from "../../src/clients/mastodon.js";
import { RejectedError } from "../../src/net/errors.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";

const world = () =>
  fakeWorld({
    async probeMastodon(origin) {
      return { domain: new URL(origin).host, software: "mastodon", version: "4.3.0" };
    },
    mastodon(origin) {
      const host = new URL(origin).host;
      return {
        async verifyCredentials() {
          throw new RejectedError(`${host} refused`, host, 401, "The access token is invalid");
        },
      } as unknown as MastodonAccountClient;
    },
  });

async function atServerStep() {
  const chat = await makeChat(world());
  // The welcome asks for the server at once; "ok" there reaches the server step itself.
  await chat.send("/start");
  await chat.send("ok");
  return chat;
}

/** Everything the store holds, as one string. */
async function stored(chat: Awaited<ReturnType<typeof makeChat>>): Promise<string> {
  return JSON.stringify(await chat.store.namespace("users").get(chat.user));
}

const mastodonToken = () => randomBytes(32).toString("base64url");

describe("a credential pasted where none was asked for", () => {
  const cases: [string, () => string, RegExp][] = [
    [
      "an access token (or a code) on its own",
      mastodonToken,
      /^That looks like an access token or a sign-in code, and I'm not asking for one here, so I haven't kept it and I've deleted your message\. If it was a token, revoke it to be safe/,
    ],
    [
      "an access token in a sentence",
      () => `my token is ${mastodonToken()}`,
      /^That looks like an access token, and I'm not asking for one here, so I haven't kept it and I've deleted your message\. To be safe, revoke it: Preferences → Development/,
    ],
    [
      "a micro.blog app token",
      () => randomBytes(15).toString("hex").toUpperCase(),
      /^That looks like a micro\.blog app token, .* revoke it at micro\.blog → Account → Edit Apps\. Nothing changed\./,
    ],
  ];
  for (const [what, make, said] of cases) {
    it(`${what}: refused, deleted, never kept or echoed`, async () => {
      const chat = await atServerStep();
      const before = await stored(chat);
      const secret = make();
      const r = await chat.send(secret);
      expect(r.lines[0]).toMatch(said);
      expect(r.lines[1]).toBe("Which Mastodon server is your account on? (e.g. mastodon.social)");
      expect(r.secret).toBe(true);
      expect(r.text).not.toContain(secret.split(" ").at(-1));
      expect(await stored(chat)).toBe(before);
      expect((await chat.state())?.step).toBe("old-server");
    });
  }

  it("the first message ever, a token, is refused the same way", async () => {
    const chat = await makeChat(world());
    const secret = mastodonToken();
    const r = await chat.send(secret);
    expect(r.secret).toBe(true);
    expect(r.lines[0]).toMatch(/^That looks like an access token or a sign-in code/);
    expect(r.text).not.toContain(secret);
    expect(await stored(chat)).not.toContain(secret);
  });

  it("the step that asks for a token still takes it", async () => {
    const chat = await atServerStep();
    await chat.send("old.example");
    await chat.press("Paste a token instead");
    const r = await chat.send(mastodonToken());
    expect(r.secret).toBe(true);
    // The step read it and asked the server, which refused this one.
    expect(r.text).toMatch(/old\.example/);
    expect(r.text).not.toMatch(/I'm not asking for one here/);
  });
});
