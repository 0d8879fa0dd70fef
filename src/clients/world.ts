/**
 * The outside world as the steps need it. main.ts wires the real clients; tests
 * can pass fakes.
 */
import { z } from "zod";
import type { Moving, Target } from "../model/state.js";
import { atMost } from "../net/at-most.js";
import { BODY_LIMITS } from "../net/body-limits.js";
import { BadResponseError, RejectedError } from "../net/errors.js";
import type { Http } from "../net/http.js";
import type { RequestSigner } from "../net/signatures.js";
import type { Sealer } from "../store/seal.js";
import { FediverseClient } from "./fediverse.js";
import { MastodonAccountClient } from "./mastodon.js";
import { MastodonTarget } from "./mastodon-target.js";
import type { MicroblogClient, Verified } from "./microblog.js";
import { MicroblogAccount } from "./microblog-account.js";
import {
  checkGivenHandle,
  findFediverseHandle,
  type HandleCheck,
  type HandleFinding,
  type MicroblogIdentity,
} from "./microblog-handle.js";
import type { NewAccount } from "./new-account.js";
import type { SignIn } from "./sign-in.js";

export interface ServerInfo {
  /** The domain in handles (LOCAL_DOMAIN). */
  domain: string;
  software: "mastodon";
  version: string;
}

export interface World {
  readonly allowPrivateNetwork: boolean;
  /** Where a server named by its host is reached: https://host, or the stand-in that plays it. */
  originOf(host: string): string;
  /** Is there a Mastodon-API server at this origin? Throws a RemoteError when not. */
  probeMastodon(origin: string): Promise<ServerInfo>;
  mastodon(origin: string, token: string): MastodonAccountClient;
  /** OAuth to the old account (read) and to a Mastodon-API new account (follow). */
  readonly signIn: Pick<SignIn, "begin" | "finish">;
  /** micro.blog: check an app token once (it returns the token to keep) and find the Fediverse handle. */
  readonly microblog?: {
    verify(appToken: string): Promise<Verified>;
    /** The account's Fediverse username, as micro.blog answers for it, or what to ask the user. */
    fediverseHandle(who: MicroblogIdentity): Promise<HandleFinding>;
    /** A handle the user says is theirs, checked. */
    checkHandle(handle: string): Promise<HandleCheck>;
    /** micro.blog's domain, as people know it (from MICROBLOG_DOMAIN). */
    readonly domain: string;
  };
  /** The new account behind one interface, with its token unsealed by the caller. */
  newAccount(target: Target, token: string): NewAccount;
  /** WebFinger, actors and NodeInfo: the alias and Move checks. */
  readonly fediverse: FediverseClient;
  /** Revokes the tokens the bot holds that can be revoked, and says what the user must do for the rest. */
  revokeAll(state: Moving, sealer: Sealer): Promise<string>;
  /** Which of these hosts answer right now (a short, bounded look at each). */
  serversAnswering(hosts: readonly string[]): Promise<Set<string>>;
}

const InstanceV2 = z.object({ domain: z.string().min(1), version: z.string() });
const InstanceV1 = z.object({ uri: z.string().min(1), version: z.string() });

export interface WorldDeps {
  http: Http;
  signIn: SignIn;
  microblog?: MicroblogClient;
  /** The domain in micro.blog's Fediverse handles (micro.blog, or the sandbox's). */
  microblogDomain?: string;
  allowPrivateNetwork: boolean;
  timeoutMs: number;
  /** Where a domain is reached; https://domain, but tests map domains to loopback stand-ins. */
  originOf?: (host: string) => string;
  /** Signs ActivityPub reads as the bot's instance actor (with PUBLIC_URL). */
  signer?: () => Promise<RequestSigner>;
}

/** How long the preview waits for each server before counting it as not answering. */
const PROBE_TIMEOUT_MS = 4000;
/** Servers the preview looks at at once. */
const PROBES_AT_ONCE = 8;

export function realWorld(deps: WorldDeps): World {
  const { http, signIn, microblog, allowPrivateNetwork, timeoutMs } = deps;
  const originOf = deps.originOf ?? ((host: string) => `https://${host}`);
  const microblogDomain = deps.microblogDomain ?? "micro.blog";
  // micro.blog's domain is reached where its API is (MICROBLOG_URL): WebFinger and actors too.
  const microblogOrigin = microblog?.origin;
  const fediverse = new FediverseClient(
    http,
    (host) =>
      microblogOrigin && host.toLowerCase() === microblogDomain.toLowerCase()
        ? microblogOrigin
        : originOf(host),
    deps.signer,
  );
  return {
    allowPrivateNetwork,
    originOf,
    signIn,
    fediverse,
    microblog: microblog && {
      verify: (appToken) => microblog.verify(appToken),
      fediverseHandle: (who) => findFediverseHandle(fediverse, who, microblogDomain),
      checkHandle: (handle) => checkGivenHandle(fediverse, handle, microblogDomain),
      domain: microblogDomain,
    },
    newAccount(target, token) {
      if (target.kind === "microblog") {
        if (!microblog) throw new Error("micro.blog is not configured");
        return new MicroblogAccount(
          { client: microblog, fediverse, domain: target.domain },
          token,
          target.username,
          target.handle,
        );
      }
      return new MastodonTarget(http, target.instance.origin, token, {
        id: target.id,
        handle: target.handle,
        domain: target.instance.domain,
      });
    },
    async revokeAll(state, sealer) {
      const notes: string[] = [];
      if (state.source.kind === "account") {
        const old = state.source.old;
        if (old.via === "oauth") {
          await signIn.revoke(old.instance.origin, sealer.unseal(old.token)).catch(() => undefined);
          notes.push(`Revoked my access to @${old.handle}.`);
        } else {
          notes.push(`Delete the token you made at ${old.instance.origin}/settings/applications.`);
        }
      }
      if (state.target.kind === "mastodon") {
        await signIn
          .revoke(state.target.instance.origin, sealer.unseal(state.target.token), "new")
          .catch(() => undefined);
        notes.push(`Revoked my access to @${state.target.handle}.`);
      } else {
        notes.push(
          "micro.blog has no way for me to revoke its app token: delete it at Account → Edit Apps.",
        );
      }
      return notes.join(" ");
    },
    async serversAnswering(hosts) {
      const answering = new Set<string>();
      const probing = atMost(PROBES_AT_ONCE);
      const probe = async (host: string) => {
        const origin = originOf(host);
        try {
          await http.request(`${origin}/.well-known/nodeinfo`, {
            timeoutMs: PROBE_TIMEOUT_MS,
            retries: 0,
            maxBytes: BODY_LIMITS.webfinger,
          });
          answering.add(host);
        } catch (err) {
          // Any answer at all, even a 404, means the server is there.
          if (err instanceof RejectedError || err instanceof BadResponseError) answering.add(host);
        }
      };
      await Promise.all([...new Set(hosts)].map((host) => probing(() => probe(host))));
      return answering;
    },
    async probeMastodon(origin) {
      const host = new URL(origin).host;
      try {
        const { data } = await http.json(`${origin}/api/v2/instance`, InstanceV2, {
          maxBytes: BODY_LIMITS.instance,
        });
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
        const { data } = await http.json(`${origin}/api/v1/instance`, InstanceV1, {
          maxBytes: BODY_LIMITS.instance,
        });
        return {
          domain: data.uri.replace(/^https?:\/\//, "").replace(/\/.*$/, ""),
          software: "mastodon",
          version: data.version,
        };
      } catch (err) {
        if (err instanceof RejectedError || err instanceof BadResponseError) {
          throw new BadResponseError(
            `${host} doesn't answer like a Mastodon server`,
            host,
            undefined,
            {
              method: err.method,
              path: err.path,
              cause: err,
            },
          );
        }
        throw err;
      }
    },
    mastodon: (origin, token) => new MastodonAccountClient(http, origin, token, timeoutMs),
  };
}
