/**
 * The outside world as the steps need it. main.ts wires the real clients; tests
 * can pass fakes.
 */
import { z } from "zod";
import { BadResponseError, RejectedError } from "../clients/errors.js";
import type { Http } from "../clients/http.js";
import { MastodonAccountClient } from "../clients/mastodon.js";
import type { SignIn } from "../clients/sign-in.js";

export interface ServerInfo {
  /** The domain in handles (LOCAL_DOMAIN). */
  domain: string;
  software: "mastodon";
  version: string;
}

export interface World {
  readonly allowPrivateNetwork: boolean;
  /** Is there a Mastodon-API server at this origin? Throws a RemoteError when not. */
  probeMastodon(origin: string): Promise<ServerInfo>;
  mastodon(origin: string, token: string): MastodonAccountClient;
  /** OAuth to the old account. */
  readonly signIn: Pick<SignIn, "begin" | "finish">;
}

const InstanceV2 = z.object({ domain: z.string().min(1), version: z.string() });
const InstanceV1 = z.object({ uri: z.string().min(1), version: z.string() });

export function realWorld(
  http: Http,
  signIn: SignIn,
  opts: { allowPrivateNetwork: boolean; timeoutMs: number },
): World {
  return {
    allowPrivateNetwork: opts.allowPrivateNetwork,
    signIn,
    async probeMastodon(origin) {
      const host = new URL(origin).host;
      try {
        const { data } = await http.json(`${origin}/api/v2/instance`, InstanceV2);
        return { domain: data.domain, software: "mastodon", version: data.version };
      } catch (err) {
        // Servers before 4.0 have only v1; anything else that isn't JSON is not Mastodon.
        if (
          !(err instanceof RejectedError && err.status === 404) &&
          !(err instanceof BadResponseError)
        )
          throw err;
      }
      try {
        const { data } = await http.json(`${origin}/api/v1/instance`, InstanceV1);
        return {
          domain: data.uri.replace(/^https?:\/\//, "").replace(/\/.*$/, ""),
          software: "mastodon",
          version: data.version,
        };
      } catch (err) {
        if (err instanceof RejectedError || err instanceof BadResponseError) {
          throw new BadResponseError(`${host} doesn't answer like a Mastodon server`, host);
        }
        throw err;
      }
    },
    mastodon: (origin, token) => new MastodonAccountClient(http, origin, token, opts.timeoutMs),
  };
}
