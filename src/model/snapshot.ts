/**
 * Everything the Move locks away, saved per user while the old token still
 * works: follows with their options, followers (the watcher compares against
 * them), lists, blocks, mutes, domain blocks and bookmarks. Kept in the store
 * under "snapshots", apart from the state, because it can be large.
 */
import { z } from "zod";
import { FollowRow } from "./state.js";

export const SNAPSHOT_PARTS = [
  "follows",
  "followers",
  "lists",
  "blocks",
  "mutes",
  "domainBlocks",
  "bookmarks",
] as const;
export type SnapshotPart = (typeof SNAPSHOT_PARTS)[number];

export const Snapshot = z.object({
  takenAt: z.number(),
  follows: z.array(FollowRow),
  followers: z.object({
    accts: z.array(z.string()),
    /** What the profile says, which can exceed the list (hidden, or servers that withhold some). */
    count: z.number(),
    hidden: z.boolean(),
  }),
  lists: z.array(z.object({ title: z.string(), acct: z.string() })),
  blocks: z.array(z.string()),
  mutes: z.array(z.object({ acct: z.string(), hideNotifications: z.boolean() })),
  domainBlocks: z.array(z.string()),
  bookmarks: z.array(z.string()),
  /** Parts the token was not allowed to read, with the scope that was missing. */
  skipped: z.array(z.object({ part: z.enum(SNAPSHOT_PARTS), scope: z.string() })),
});
export type Snapshot = z.infer<typeof Snapshot>;

export const emptySnapshot = (takenAt: number): Snapshot => ({
  takenAt,
  follows: [],
  followers: { accts: [], count: 0, hidden: false },
  lists: [],
  blocks: [],
  mutes: [],
  domainBlocks: [],
  bookmarks: [],
  skipped: [],
});
