/**
 * Signing in to the old account by OAuth, as the steps use it: begin (register
 * the app once per server, make the link) and finish (trade the code). The
 * bot's app per server is cached in the store, its secret sealed; a pending
 * sign-in is kept under its `state` for 10 minutes and can be claimed once.
 */
import { z } from "zod";
import { type UserKey, UserKeySchema } from "../chat/conversation.js";
import { type Sealed, SealedSchema } from "../model/sealed.js";
import { RejectedError } from "../net/errors.js";
import { collection } from "../store/collection.js";
import type { Sealer } from "../store/seal.js";
import type { KeyValue, Store } from "../store/store.js";
import { challengeOf, type MastodonOAuth, type OAuthApp, OOB, randomToken } from "./oauth.js";

export const SIGN_IN_TTL_MS = 10 * 60_000;
/** Where sign-ins wait for their callback, keyed by `state` (/forget deletes a user's). */
export const PENDING_SIGN_INS = "oauth-pending";
export const READ_SCOPES =
  "read:accounts read:follows read:lists read:blocks read:mutes read:bookmarks";
/** The new account: find accounts, follow them, see who is followed. Nothing else. */
export const FOLLOW_SCOPES = "read:accounts read:follows read:search write:follows";

/** Which account a sign-in is for: the old one (read only) or the new one (to follow). */
export type Purpose = "old" | "new";

/** The bot's app on one server, its secret sealed. */
const StoredApp = z.object({
  clientId: z.string(),
  clientSecret: SealedSchema,
  scopes: z.string(),
  redirectUri: z.string(),
});
type StoredApp = z.infer<typeof StoredApp>;

/** A sign-in waiting for its callback, under its `state`. */
const Pending = z.object({
  user: UserKeySchema,
  origin: z.string(),
  at: z.number(),
  purpose: z.enum(["old", "new"]).optional(),
});

export interface Begun {
  state: string;
  url: string;
  verifier?: Sealed;
  redirect: "oob" | "callback";
}

/** Granular scopes (read:follows…) exist from Mastodon 2.4.3; older servers know only "read". */
export function scopesFor(version: string, purpose: Purpose = "old"): string {
  const [major = 0, minor = 0, patch = 0] = version
    .split(/[.+-]/)
    .map((x) => Number.parseInt(x, 10) || 0);
  const granular = major > 2 || (major === 2 && (minor > 4 || (minor === 4 && patch >= 3)));
  if (purpose === "new") return granular ? FOLLOW_SCOPES : "read write:follows";
  return granular ? READ_SCOPES : "read";
}

export class SignIn {
  private readonly apps: KeyValue<StoredApp>;
  private readonly pending: KeyValue<z.infer<typeof Pending>>;

  constructor(
    private readonly oauth: MastodonOAuth,
    store: Store,
    private readonly sealer: Sealer,
    private readonly opts: { publicUrl?: string; appName?: string; now?: () => number },
  ) {
    this.apps = collection(store, "oauth-apps", StoredApp);
    this.pending = collection(store, PENDING_SIGN_INS, Pending);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  get redirectUri(): string {
    return this.opts.publicUrl ? `${this.opts.publicUrl}/oauth/callback` : OOB;
  }

  async begin(
    user: UserKey,
    instance: { origin: string; version: string },
    purpose: Purpose = "old",
  ): Promise<Begun> {
    const scopes = scopesFor(instance.version, purpose);
    const app = await this.app(instance.origin, scopes, purpose);
    const { pkce } = await this.oauth.discover(instance.origin);
    const state = randomToken(24);
    const verifier = pkce ? randomToken(32) : undefined;
    await this.pending.set(
      state,
      { user, origin: instance.origin, at: this.now(), purpose },
      SIGN_IN_TTL_MS,
    );
    const url = this.oauth.authorizeUrl(instance.origin, app, {
      scopes: app.scopes,
      state,
      challenge: verifier ? challengeOf(verifier) : undefined,
    });
    return {
      state,
      url,
      verifier: verifier ? this.sealer.seal(verifier) : undefined,
      redirect: this.opts.publicUrl ? "callback" : "oob",
    };
  }

  async finish(
    origin: string,
    verifier: Sealed | undefined,
    code: string,
    purpose: Purpose = "old",
  ): Promise<{ token: string; scopes: string }> {
    const app = await this.storedApp(origin, purpose);
    if (!app)
      throw new RejectedError(
        `${new URL(origin).host} has no app for this bot any more`,
        new URL(origin).host,
        400,
        "invalid_client",
      );
    const got = await this.oauth.exchange(
      origin,
      app,
      code,
      verifier ? this.sealer.unseal(verifier) : undefined,
    );
    return { token: got.token, scopes: got.scope ?? app.scopes };
  }

  /**
   * The user a callback's `state` belongs to, once: a second claim, an unknown
   * state or one older than 10 minutes gets undefined.
   */
  async claim(
    state: string,
  ): Promise<{ user: UserKey; origin: string; purpose: Purpose } | undefined> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(state)) return undefined;
    // Read and removed in one atomic step: of callbacks racing with one state, one wins.
    const found = await this.pending.take(state);
    if (!found || this.now() - found.at > SIGN_IN_TTL_MS) return undefined;
    return { user: found.user, origin: found.origin, purpose: found.purpose ?? "old" };
  }

  /** Revokes a token this bot obtained by OAuth (the journey's end, or /forget). */
  async revoke(origin: string, token: string, purpose: Purpose = "old"): Promise<void> {
    const app = await this.storedApp(origin, purpose);
    if (app) await this.oauth.revoke(origin, app, token);
  }

  /** One app per server, redirect and purpose: the old account's never holds write scopes. */
  private key(origin: string, purpose: Purpose): string {
    return purpose === "old"
      ? `${origin}|${this.redirectUri}`
      : `${origin}|${this.redirectUri}|${purpose}`;
  }

  private async storedApp(origin: string, purpose: Purpose): Promise<OAuthApp | undefined> {
    const stored = await this.apps.get(this.key(origin, purpose));
    return stored
      ? { ...stored, clientSecret: this.sealer.unseal(stored.clientSecret) }
      : undefined;
  }

  private async app(origin: string, scopes: string, purpose: Purpose): Promise<OAuthApp> {
    const cached = await this.storedApp(origin, purpose);
    if (cached && cached.scopes === scopes) return cached;
    const app = await this.oauth.registerApp(origin, {
      name: this.opts.appName ?? "fedimove",
      scopes,
      redirectUri: this.redirectUri,
      website: this.opts.publicUrl,
    });
    await this.apps.set(this.key(origin, purpose), {
      ...app,
      clientSecret: this.sealer.seal(app.clientSecret),
    });
    return app;
  }
}
