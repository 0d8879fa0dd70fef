/**
 * Before the import starts: how many accounts will be followed, how many the new
 * account already follows, and how many sit on servers that don't answer now.
 */
import type { NewAccount } from "../../clients/new-account.js";
import { domainOf, normalHandle } from "../../model/handle.js";
import type { FollowRow, Preview, Target } from "../../model/state.js";

/** Mastodon's RateLimiter family :follows: 400 a day through the API. */
export const MASTODON_DAILY_FOLLOWS = 400;
const SHOW_SERVERS = 5;

export async function preview(
  rows: readonly FollowRow[],
  account: NewAccount,
  target: Target,
  serversAnswering: (hosts: readonly string[]) => Promise<Set<string>>,
): Promise<Preview> {
  const following = await account.following();
  const todo = rows.filter((r) => !following.has(normalHandle(r.acct)));
  const hosts = [...new Set(todo.map((r) => domainOf(r.acct)))];
  const answering = await serversAnswering(hosts);
  const silent = todo.filter((r) => !answering.has(domainOf(r.acct)));
  const perServer = new Map<string, number>();
  for (const r of silent)
    perServer.set(domainOf(r.acct), (perServer.get(domainOf(r.acct)) ?? 0) + 1);
  return {
    toFollow: todo.length,
    already: rows.length - todo.length,
    unreachable: silent.length,
    unreachableServers: [...perServer.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, SHOW_SERVERS)
      .map(([h]) => h),
    dailyLimit: target.kind === "mastodon" ? MASTODON_DAILY_FOLLOWS : null,
  };
}
