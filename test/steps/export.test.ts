import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { mastodonFollowingCsv } from "../../sandbox/mastodon-export.js";
import { makeChat } from "../helpers/chat.js";

let sandbox: MastodonSandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function signIn(opts: { follows: number; rateLimit?: { limit: number; windowMs: number } }) {
  sandbox = await startMastodonSandbox({
    domain: "social.example",
    rateLimit: opts.rateLimit ?? null,
  });
  const ada = sandbox.addAccount({ username: "ada" });
  const follows = sandbox.seedFollows("ada", opts.follows);
  const token = sandbox.issueToken("ada", ["read:accounts", "read:follows"]);
  const chat = await makeChat({});
  await chat.send("/start");
  await chat.send(sandbox.url);
  const server = await chat.press("Paste a token instead");
  expect(server.text).toMatch(/access token from/);
  return { chat, token, follows, sandbox, ada };
}

describe("connect by token and export follows (against the Mastodon stand-in)", () => {
  it("signs in, deletes the token, and sends following_accounts.csv exactly as Mastodon would", async () => {
    const { chat, token, follows } = await signIn({ follows: 333 });
    const r = await chat.send(token);
    expect(r.secret).toBe(true);
    expect(r.text).toBe(
      "Signed in as @ada@social.example. Saving everything the move will lock away…",
    );
    await chat.jobs.idle();
    const file = chat.notified.find((x) => x.kind === "file");
    expect(file?.kind === "file" && file.name).toBe("following_accounts.csv");
    const csv = new TextDecoder().decode(file?.kind === "file" ? file.bytes : new Uint8Array());
    expect(csv).toBe(mastodonFollowingCsv(follows, "social.example"));
    expect(csv.split("\n").length).toBe(333 + 2);
    expect((await chat.state())?.step).toBe("new-choose");
    // The token is sealed at rest: the saved state does not contain it.
    expect(JSON.stringify(await chat.store.namespace("users").get(chat.user))).not.toContain(token);
  });

  it("waits out the rate limit, says when it continues, and still exports everything", async () => {
    const { chat, token, follows } = await signIn({
      follows: 400,
      rateLimit: { limit: 6, windowMs: 1500 },
    });
    await chat.send(token);
    await chat.jobs.idle();
    const said = chat.notified.map((x) => (x.kind === "file" ? `file ${x.name}` : x.text.join("")));
    expect(
      said.some((s) => /^Waiting for .*'s rate limit; continuing at \d\d:\d\d UTC\.$/.test(s)),
    ).toBe(true);
    const file = chat.notified.find((x) => x.kind === "file");
    const csv = new TextDecoder().decode(file?.kind === "file" ? file.bytes : new Uint8Array());
    expect(csv).toBe(mastodonFollowingCsv(follows, "social.example"));
    // Never a 429: the pacer held requests until the reset instead.
    expect(sandbox!.requests.filter((q) => q.status === 429)).toEqual([]);
  });

  it("a revoked token is refused with the server's reason and the step stays", async () => {
    const { chat, token } = await signIn({ follows: 1 });
    sandbox!.revokeToken(token);
    const before = await chat.state();
    const r = await chat.send(token);
    expect(r.text).toMatch(/says that token isn't valid/);
    expect(await chat.state()).toEqual(before);
  });

  it("a server failing mid-export sends the user back to the token step with the reason", async () => {
    const { chat, token } = await signIn({ follows: 200 });
    // The first page of follows arrives; every try at its options fails (a read is tried four times).
    sandbox!.failNext(4, { status: 503, path: "/api/v1/accounts/relationships" });
    await chat.send(token);
    await chat.jobs.idle();
    const said = chat.notified
      .filter((x) => x.kind === "say")
      .map((x) => (x.kind === "say" ? x.text.join("") : ""));
    expect(said[0]).toMatch(
      /^I couldn't finish saving your account: .* is having trouble right now \(HTTP 503\)/,
    );
    expect((await chat.state())?.step).toBe("old-token");
  });
});
