/**
 * The snapshot, read one request at a time so that progress can be saved after
 * each: `step` takes a cursor and returns the next one. Parts go in a fixed
 * order; a part the token may not read (403) is noted and skipped, so a token
 * without read:bookmarks still saves everything else. A part the server's version
 * doesn't have (bookmarks before 3.1: no route, a 404) is noted as skipped too,
 * without asking.
 */
import { z } from "zod";
import {
  AccountSchema,
  ListSchema,
  type MastodonAccountClient,
  StatusUriSchema,
} from "../clients/mastodon.js";
import { serverHas } from "../clients/mastodon-versions.js";
import { withDomain } from "../model/handle.js";
import { SNAPSHOT_PARTS, Snapshot, type SnapshotPart } from "../model/snapshot.js";
import { RejectedError } from "../net/errors.js";
import { type ExportCursor, exportFollowsPage } from "./export-follows.js";

export const SnapshotCursor = z.object({
  part: z.enum([...SNAPSHOT_PARTS, "done"]),
  /** The next page of the current part (or of the current list's members). */
  next: z.string().optional(),
  /** Lists, once known, and which one's members are being read. */
  lists: z.array(z.object({ id: z.string(), title: z.string() })).optional(),
  listIndex: z.number().optional(),
  snapshot: Snapshot,
});
export type SnapshotCursor = z.infer<typeof SnapshotCursor>;

export interface AccountRef {
  id: string;
  domain: string;
  followersCount: number;
  /** The version the server reports; parts it predates are skipped. Unknown: all are read. */
  version?: string;
}

/** The scope each part needs, for telling the user what their token lacked. */
export const PART_SCOPE: Record<SnapshotPart, string> = {
  follows: "read:follows",
  followers: "read:accounts",
  lists: "read:lists",
  blocks: "read:blocks",
  mutes: "read:mutes",
  domainBlocks: "read:blocks",
  bookmarks: "read:bookmarks",
};

const Accounts = z.array(AccountSchema);

function skip(cursor: SnapshotCursor, part: SnapshotPart): SnapshotCursor {
  const skipped = [...cursor.snapshot.skipped, { part, scope: PART_SCOPE[part] }];
  return advance({ ...cursor, snapshot: { ...cursor.snapshot, skipped } });
}

function advance(cursor: SnapshotCursor): SnapshotCursor {
  const at = SNAPSHOT_PARTS.indexOf(cursor.part as SnapshotPart);
  const part = SNAPSHOT_PARTS[at + 1] ?? "done";
  return { part, snapshot: cursor.snapshot };
}

export async function snapshotStep(
  client: MastodonAccountClient,
  account: AccountRef,
  cursor: SnapshotCursor,
): Promise<SnapshotCursor> {
  if (cursor.part === "done") return cursor;
  if (!serverHas(cursor.part, account.version)) return skip(cursor, cursor.part);
  try {
    return await readPart(client, account, cursor);
  } catch (err) {
    if (err instanceof RejectedError && err.status === 403 && cursor.part !== "follows") {
      return skip(cursor, cursor.part);
    }
    throw err;
  }
}

async function readPart(
  client: MastodonAccountClient,
  account: AccountRef,
  cursor: SnapshotCursor,
): Promise<SnapshotCursor> {
  const snap = cursor.snapshot;
  const acct = (a: { acct: string }) => withDomain(a.acct, account.domain);
  const more = (next: string | undefined, snapshot: Snapshot): SnapshotCursor =>
    next ? { ...cursor, next, snapshot } : advance({ ...cursor, snapshot });

  switch (cursor.part) {
    case "done":
      return cursor;
    case "follows": {
      const follows: ExportCursor = { next: cursor.next, rows: snap.follows, done: false };
      const page = await exportFollowsPage(client, account.id, account.domain, follows);
      return more(page.next, { ...snap, follows: page.rows });
    }
    case "followers": {
      const page = await client.page(
        cursor.next ?? `/api/v1/accounts/${account.id}/followers?limit=80`,
        Accounts,
      );
      const accts = [...snap.followers.accts, ...page.items.map(acct)];
      // A list that comes back empty while the profile counts followers is hidden from us, not empty.
      const hidden = !page.next && accts.length === 0 && account.followersCount > 0;
      return more(page.next, {
        ...snap,
        followers: { accts, count: account.followersCount, hidden },
      });
    }
    case "lists": {
      const lists = cursor.lists ?? (await client.page("/api/v1/lists", z.array(ListSchema))).items;
      const index = cursor.listIndex ?? 0;
      const list = lists[index];
      if (!list) return advance(cursor);
      const page = await client.page(
        cursor.next ?? `/api/v1/lists/${list.id}/accounts?limit=80`,
        Accounts,
      );
      const rows = [
        ...snap.lists,
        ...page.items.map((a) => ({ title: list.title, acct: acct(a) })),
      ];
      const snapshot = { ...snap, lists: rows };
      if (page.next) return { ...cursor, lists, listIndex: index, next: page.next, snapshot };
      if (index + 1 < lists.length) return { part: "lists", lists, listIndex: index + 1, snapshot };
      return advance({ ...cursor, snapshot });
    }
    case "blocks": {
      const page = await client.page(cursor.next ?? "/api/v1/blocks?limit=80", Accounts);
      return more(page.next, { ...snap, blocks: [...snap.blocks, ...page.items.map(acct)] });
    }
    case "mutes": {
      const page = await client.page(cursor.next ?? "/api/v1/mutes?limit=80", Accounts);
      // "Hide notifications" lives on the relationship, not on the muted account.
      const rels = new Map(
        (await client.relationships(page.items.map((a) => a.id))).map((r) => [r.id, r]),
      );
      const mutes = page.items.map((a) => ({
        acct: acct(a),
        hideNotifications: rels.get(a.id)?.muting_notifications ?? true,
      }));
      return more(page.next, { ...snap, mutes: [...snap.mutes, ...mutes] });
    }
    case "domainBlocks": {
      const page = await client.page(
        cursor.next ?? "/api/v1/domain_blocks?limit=200",
        z.array(z.string()),
      );
      return more(page.next, { ...snap, domainBlocks: [...snap.domainBlocks, ...page.items] });
    }
    case "bookmarks": {
      const page = await client.page(
        cursor.next ?? "/api/v1/bookmarks?limit=40",
        z.array(StatusUriSchema),
      );
      return more(page.next, {
        ...snap,
        bookmarks: [...snap.bookmarks, ...page.items.map((s) => s.uri)],
      });
    }
  }
}
