/**
 * OAuth's requests that carry the client secret (registering the app, trading the code for a
 * token, revoking it) never follow a redirect: a server that answers 307 or 308 towards
 * another host gets an error, and that host receives nothing.
 */
import type http from "node:http";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { MastodonOAuth, type OAuthApp } from "../../src/clients/oauth.js";
import { BadResponseError } from "../../src/net/errors.js";
import { client, serve } from "../net/serve.js";

const APP: OAuthApp = {
  clientId: "client-id-0001",
  clientSecret: "CLIENTsecret0123456789",
  scopes: "read",
  redirectUri: "urn:ietf:wg:oauth:2.0:oob",
};
const CODE = "AUTHcode0123456789";
const VERIFIER = "PKCEverifier0123456789012345678901234567";
const TOKEN = "ACCESStoken0123456789";

/** A server that counts what reaches it, and one that sends every request on to it. */
async function redirecting(status: number, sameOrigin = false) {
  const reached: string[] = [];
  const elsewhere = await serve((req, res) => {
    reached.push(`${req.method} ${req.url}`);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ access_token: "stolen", client_id: "x", client_secret: "y" }));
  });
  const asked: string[] = [];
  const server = await serve((req: http.IncomingMessage, res: http.ServerResponse) => {
    asked.push(`${req.method} ${req.url}`);
    if (sameOrigin && req.url?.startsWith("/moved")) {
      reached.push(`${req.method} ${req.url}`);
      res.end("{}");
      return;
    }
    res.statusCode = status;
    res.setHeader("location", `${sameOrigin ? "/moved" : elsewhere}${req.url}`);
    res.end();
  });
  return { server, reached, asked };
}

const calls: [string, (oauth: MastodonOAuth, origin: string) => Promise<unknown>][] = [
  [
    "registering the app",
    (o, origin) =>
      o.registerApp(origin, { name: "fedimove", scopes: "read", redirectUri: APP.redirectUri }),
  ],
  ["the token exchange", (o, origin) => o.exchange(origin, APP, CODE, VERIFIER)],
  ["revoking the token", (o, origin) => o.revoke(origin, APP, TOKEN)],
];

describe("OAuth never follows a redirect", () => {
  for (const [what, call] of calls) {
    it.each([307, 308])(`${what}: a %i to another host reaches nothing there`, async (status) => {
      const { server, reached, asked } = await redirecting(status);
      const { http } = client();
      const err = await call(new MastodonOAuth(http), server).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BadResponseError);
      expect((err as BadResponseError).message).toBe(
        `${new URL(server).host} answered with a redirect (HTTP ${status}), which I don't follow here`,
      );
      expect(asked).toHaveLength(1);
      expect(reached).toEqual([]);
      for (const secret of [APP.clientSecret, CODE, VERIFIER, TOKEN])
        expect(inspect(err, { depth: 8 })).not.toContain(secret);
    });

    it(`${what}: not even on the same server`, async () => {
      const { server, reached } = await redirecting(307, true);
      const { http } = client();
      await expect(call(new MastodonOAuth(http), server)).rejects.toBeInstanceOf(BadResponseError);
      expect(reached).toEqual([]);
    });
  }
});
