/** The OAuth scopes of the Mastodon stand-in: the server's per version and Doorkeeper's checks. */

import { blank } from "./mastodon-http.js";
import type { Store } from "./mastodon-store.js";

/** default_scopes + optional_scopes of config/initializers/doorkeeper.rb for this version. */
export function serverScopes(store: Store): string[] {
  const v = (a: number, b: number, c = 0) => store.atLeast(a, b, c);
  const admin = (kind: "read" | "write") => [
    `admin:${kind}`,
    `admin:${kind}:accounts`,
    `admin:${kind}:reports`,
    ...(v(4, 1)
      ? [
          `admin:${kind}:domain_allows`,
          `admin:${kind}:domain_blocks`,
          `admin:${kind}:ip_blocks`,
          `admin:${kind}:email_domain_blocks`,
          `admin:${kind}:canonical_email_blocks`,
        ]
      : []),
  ];
  const granular = (kind: "read" | "write", names: string[]) =>
    v(2, 4, 3) ? names.map((n) => `${kind}:${n}`) : [];
  const all = [
    "read",
    ...(v(4, 3) ? ["profile"] : []),
    "write",
    ...granular("write", [
      "accounts",
      "blocks",
      ...(v(3, 1) ? ["bookmarks"] : []),
      ...(v(2, 6) ? ["conversations"] : []),
      "favourites",
      "filters",
      "follows",
      "lists",
      "media",
      "mutes",
      "notifications",
      "reports",
      "statuses",
    ]),
    ...granular("read", [
      "accounts",
      "blocks",
      ...(v(3, 1) ? ["bookmarks"] : []),
      "favourites",
      "filters",
      "follows",
      "lists",
      "mutes",
      "notifications",
      "search",
      "statuses",
    ]),
    "follow",
    "push",
    ...(v(2, 9, 1) ? [...admin("read"), ...admin("write")] : []),
    ...(v(3, 2) && !v(4, 3) ? ["crypto"] : []),
  ];
  return [...new Set(all)];
}

/** Doorkeeper::OAuth::Scopes.from_string: split on whitespace, uniq. */
export function scopesFromString(value: string | undefined | null): string[] {
  return [...new Set((value ?? "").split(/\s+/).filter((s) => s !== ""))];
}

/**
 * Doorkeeper::OAuth::Helpers::ScopeChecker.valid?: present, no CR/LF/TAB, and every scope
 * within `app_scopes.present? ? server_scopes & app_scopes : server_scopes` — the
 * intersection, so a scope this version doesn't configure is invalid_scope even for an app
 * that holds it (lib/doorkeeper/oauth/helpers/scope_checker.rb, 4.x and 5.x alike).
 */
export function scopesValid(scopeStr: string, server: string[], app: string[] | null): boolean {
  if (blank(scopeStr) || /[\n\r\t]/.test(scopeStr)) return false;
  const allowed = app && app.length > 0 ? server.filter((s) => app.includes(s)) : server;
  return scopesFromString(scopeStr).every((s) => allowed.includes(s));
}

export function sameScopes(a: string[], b: string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
}
