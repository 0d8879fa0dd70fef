/**
 * Signing in to the old account by OAuth, as the steps use it: begin (register
 * the app once per server, make the link) and finish (trade the code). The
 * bot's app per server is cached in the store, its secret sealed; a pending
 * sign-in is kept under its `state` for 10 minutes and can be claimed once.
 *
 * A cached app can disappear: Mastodon 4.2.0–4.2.8 delete apps with no owner,
 * no live token or code and over a day old (Vacuum::ApplicationsVacuum, removed
 * in 4.2.9 by mastodon/mastodon#30316), and an admin can delete one any day.
 * The server then answers "invalid_client". So an app old enough to have been
 * vacuumed is checked before its link is handed out, and replaced if it is gone;
 * a code traded against a gone app is refused with AppGoneError, after which the
 * next `begin` registers afresh (the code itself was bound to the old app).
 */
import { z } from "zod";
import { type UserKey, UserKeySchema } from "../chat/conversation.js";
import { type Sealed, SealedSchema } from "../model/sealed.js";
import { RejectedError } from "../net/errors.js";
import { collection } from "../store/collection.js";
import type { Sealer } from "../store/seal.js";
import type { KeyValue, Store } from "../store/store.js";
import { withLock } from "../store/with-lock.js";
import {
  atLeast,
  BOOKMARKS,
  GRANULAR_SCOPES,
  mastodonOlderThan,
  type Version,
} from "./mastodon-versions.js";
import { challengeOf, type MastodonOAuth, type OAuthApp, OOB, randomToken } from "./oauth.js";

export const SIGN_IN_TTL_MS = 10 * 60_000;
/** Where sign-ins wait for their callback, keyed by `state` (/forget deletes a user's). */
export const PENDING_SIGN_INS = "oauth-pending";

/** Everything the old account's snapshot reads, each scope with the version that brought it. */
const READ_WANTED: readonly (readonly [scope: string, since: Version])[] = [
  ["read:accounts", GRANULAR_SCOPES],
  ["read:follows", GRANULAR_SCOPES],
  ["read:lists", GRANULAR_SCOPES],
  ["read:blocks", GRANULAR_SCOPES],
  ["read:mutes", GRANULAR_SCOPES],
  ["read:bookmarks", BOOKMARKS],
];
/** The old account's scopes on a current server. */
export const READ_SCOPES = READ_WANTED.map(([scope]) => scope).join(" ");
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
  /** When it was registered (ms); absent for apps stored before this was kept. */
  registeredAt: z.number().optional(),
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

/**
 * The scopes to ask this version for: only ones it has. Doorkeeper refuses a scope the
 * server doesn't configure — at registration (`enforce_configured_scopes`: 422 "Scopes
 * doesn't match configured on the server") and at /oauth/authorize (ScopeChecker checks
 * server ∩ app scopes: invalid_scope) — so read:bookmarks on a 3.0 server would cost the
 * whole sign-in. Before 2.4.3 there are no granular scopes: "read", and "follow" for
 * following (Api::V1::AccountsController then said `doorkeeper_authorize! :follow`).
 */
export function scopesFor(version: string, purpose: Purpose = "old"): string {
  const granular = atLeast(version, GRANULAR_SCOPES);
  if (purpose === "new") return granular ? FOLLOW_SCOPES : "read follow";
  if (!granular) return "read";
  return READ_WANTED.filter(([, since]) => !mastodonOlderThan(version, since))
    .map(([scope]) => scope)
    .join(" ");
}

/** ApplicationsVacuum's age: `where(created_at: ...1.day.ago)`. */
const VACUUM_AGE_MS = 24 * 60 * 60_000;

/** The server no longer knows the bot's app (deleted as unused, or by an admin): sign in again. */
export class AppGoneError extends RejectedError {
  constructor(host: string, options?: { cause?: unknown }) {
    super(`${host} no longer knows this bot's app`, host, 401, "invalid_client", options);
  }
}

/** Doorkeeper's answers for a client it doesn't know: token 401 invalid_client, revoke 403. */
function unknownClient(err: unknown): boolean {
  return (
    err instanceof RejectedError &&
    ((err.status === 401 && err.detail === "invalid_client") ||
      (err.status === 403 && err.detail === "unauthorized_client"))
  );
}

export class SignIn {
  private readonly apps: KeyValue<StoredApp>;
  private readonly pending: KeyValue<z.infer<typeof Pending>>;

  constructor(
    private readonly oauth: MastodonOAuth,
    private readonly store: Store,
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
    const host = new URL(origin).host;
    const app = await this.storedApp(origin, purpose);
    if (!app) throw new AppGoneError(host);
    try {
      const got = await this.oauth.exchange(
        origin,
        app,
        code,
        verifier ? this.sealer.unseal(verifier) : undefined,
      );
      return { token: got.token, scopes: got.scope ?? app.scopes };
    } catch (err) {
      // Doorkeeper authenticates the client before it looks at the code: invalid_client means
      // the app is gone, whatever the code. Forget it, so the next begin registers a new one.
      if (err instanceof RejectedError && err.status === 401 && err.detail === "invalid_client") {
        await this.forgetApp(origin, purpose, app.clientId);
        throw new AppGoneError(host, { cause: err });
      }
      throw err;
    }
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

  private async storedApp(
    origin: string,
    purpose: Purpose,
  ): Promise<(OAuthApp & { registeredAt?: number }) | undefined> {
    const stored = await this.apps.get(this.key(origin, purpose));
    return stored
      ? { ...stored, clientSecret: this.sealer.unseal(stored.clientSecret) }
      : undefined;
  }

  /** Drops the cached app, unless another sign-in has already replaced it. */
  private async forgetApp(origin: string, purpose: Purpose, clientId: string): Promise<void> {
    const stored = await this.apps.get(this.key(origin, purpose));
    if (stored?.clientId === clientId) await this.apps.delete(this.key(origin, purpose));
  }

  /**
   * Whether the server still knows the app, asked without side effects: revoking a token
   * that doesn't exist. Doorkeeper (5.6, Mastodon 4.2) authenticates the client first and
   * answers 403 unauthorized_client for one it doesn't know, else 200 for the unknown token
   * (Doorkeeper::TokensController#revoke, RFC 7009 §2.2). Any other answer proves nothing,
   * and the app is kept.
   */
  private async stillKnown(origin: string, app: OAuthApp): Promise<boolean> {
    try {
      await this.oauth.revoke(origin, app, randomToken(32));
      return true;
    } catch (err) {
      return !unknownClient(err);
    }
  }

  /**
   * The app for this server, registered once: two sign-ins beginning together (two people, or
   * two processes) take turns here, so the second finds the first one's app. Each registering
   * on its own, the app stored last would be the only one kept, and whoever was sent with the
   * other could never trade their code ("belongs to another sign-in").
   */
  private async app(origin: string, scopes: string, purpose: Purpose): Promise<OAuthApp> {
    return withLock(this.store.locks, `oauth-app:${this.key(origin, purpose)}`, () =>
      this.appOnce(origin, scopes, purpose),
    );
  }

  private async appOnce(origin: string, scopes: string, purpose: Purpose): Promise<OAuthApp> {
    const cached = await this.storedApp(origin, purpose);
    if (cached && cached.scopes === scopes) {
      // Old enough to be vacuumed before this sign-in's code is traded: check it is still there.
      const age = this.now() - (cached.registeredAt ?? 0);
      if (age < VACUUM_AGE_MS - SIGN_IN_TTL_MS || (await this.stillKnown(origin, cached))) {
        return cached;
      }
    }
    const app = await this.oauth.registerApp(origin, {
      name: this.opts.appName ?? "fedimove",
      scopes,
      redirectUri: this.redirectUri,
      website: this.opts.publicUrl,
    });
    await this.apps.set(this.key(origin, purpose), {
      ...app,
      clientSecret: this.sealer.seal(app.clientSecret),
      registeredAt: this.now(),
    });
    return app;
  }
}
