/**
 * A follower count is read as a count or not at all: an answer without one is an error (or, for
 * a public profile, "doesn't say"), never 0 — a watcher that took it for 0 reports "0 of 0".
 */
import { describe, expect, it } from "vitest";
import { MastodonAccountClient } from "../../src/clients/mastodon.js";
import { BadResponseError } from "../../src/net/errors.js";
import { client, serve } from "../net/serve.js";

const ACCOUNT = { id: "1", username: "ada", acct: "ada" };

describe("the old account's follower count", () => {
  it("verify_credentials without followers_count is an answer I can't read, not 0 followers", async () => {
    const url = await serve((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(ACCOUNT));
    });
    const { http } = client();
    const err = await new MastodonAccountClient(http, url, "t", 2000)
      .verifyCredentials()
      .catch((e) => e);
    expect(err).toBeInstanceOf(BadResponseError);
    expect(err.message).toBe(`${new URL(url).host} sent an account I can't read (followers_count)`);
  });

  it("a hidden count (-1, as some forks send) is no count either", async () => {
    const url = await serve((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ...ACCOUNT, followers_count: -1 }));
    });
    const { http } = client();
    await expect(
      new MastodonAccountClient(http, url, "t", 2000).verifyCredentials(),
    ).rejects.toBeInstanceOf(BadResponseError);
  });
});
