/**
 * What each Mastodon version brought, of what the bot asks a server for, and
 * versions read the way servers report them ("4.2.10+glitch", "3.0.1rc1",
 * "4.4.0-beta.1"). Forks report the upstream version they are built on.
 */
import type { SnapshotPart } from "../model/snapshot.js";

export type Version = readonly [major: number, minor: number, patch: number];

/** Granular scopes (read:follows, write:follows…): Mastodon 2.4.3 (docs api/oauth-scopes.md; apis.md A4). */
export const GRANULAR_SCOPES: Version = [2, 4, 3];

/**
 * Bookmarks — the feature, GET /api/v1/bookmarks and the read:bookmarks scope
 * (config/initializers/doorkeeper.rb) — came in Mastodon 3.1.0 (docs
 * methods/bookmarks.md and api/oauth-scopes.md; apis.md, harsh modes 11).
 * Older servers have no bookmarks, and refuse the scope.
 */
export const BOOKMARKS: Version = [3, 1, 0];

export function parseVersion(version: string): Version {
  const [major = 0, minor = 0, patch = 0] = version
    .split(/[.+-]/)
    .map((x) => Number.parseInt(x, 10) || 0);
  return [major, minor, patch];
}

export function atLeast(version: string, since: Version): boolean {
  const v = parseVersion(version);
  for (let i = 0; i < 3; i++) if (v[i] !== since[i]) return v[i]! > since[i]!;
  return true;
}

/**
 * Whether the version is Mastodon's own and older than `since`. Servers that speak
 * Mastodon's API report a compatibility level instead ("2.7.2 (compatible; Pleroma
 * 2.6.1)", Friendica likewise) or their own numbering (GoToSocial's 0.x): those
 * say nothing about when a feature came, so they are never judged older.
 */
export function mastodonOlderThan(version: string, since: Version): boolean {
  if (/compatible/i.test(version) || !/^\d+\.\d+\.\d+/.test(version.trim())) return false;
  return parseVersion(version)[0] >= 1 && !atLeast(version, since);
}

/** "3.1" for [3, 1, 0], "2.4.3" for [2, 4, 3]: how a version is named to a user. */
export function versionName(v: Version): string {
  return v[2] === 0 ? `${v[0]}.${v[1]}` : v.join(".");
}

/** Parts of the snapshot that came later than the rest, with the version that brought them. */
export const PART_SINCE: Partial<Record<SnapshotPart, Version>> = { bookmarks: BOOKMARKS };

/** Whether a server at this version has the part at all; a version that can't tell gets the benefit. */
export function serverHas(part: SnapshotPart, version: string | undefined): boolean {
  const since = PART_SINCE[part];
  return !since || version === undefined || !mastodonOlderThan(version, since);
}
