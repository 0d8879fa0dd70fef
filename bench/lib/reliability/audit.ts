/**
 * What a finished journey should have left, checked against what the servers and the person
 * actually hold: every follow made once, the snapshot whole, every follower moved, one finished
 * message. What's missing is "lost", what's there twice is a "duplicate".
 */
import { plain } from "../../../src/chat/text.js";
import type { Snapshot } from "../../../src/model/snapshot.js";
import type { Chat, Walk } from "./journey.js";
import type { Person, Town } from "./town.js";

export interface Audit {
  lost: number;
  duplicates: number;
  /** One line per problem, for the report. */
  notes: string[];
}

const FINISHED = /^Your move is finished: (\d+) of (\d+) followers moved/;

export async function audit(chat: Chat, person: Person, town: Town, walked: Walk): Promise<Audit> {
  const { mb } = town.world;
  const notes: string[] = [];
  let lost = 0;
  let duplicates = 0;
  const who = person.username;
  for (const e of new Set(walked.errors)) notes.push(`${who}: a turn failed: ${e}`);
  if (!walked.finished) {
    lost += 1;
    notes.push(`${who}: journey not finished (${walked.stuck ?? "?"})`);
  }
  const snapshot = (await chat.store.namespace("snapshots").get(chat.user)) as Snapshot | undefined;
  const saved = snapshot?.follows.length ?? 0;
  if (saved < person.follows.length) {
    lost += person.follows.length - saved;
    notes.push(`${who}: snapshot has ${saved} of ${person.follows.length} follows`);
  }
  const following = new Set(mb.followingOf(who).map((h) => h.toLowerCase()));
  const missing = person.follows.filter((a) => !following.has(a.toLowerCase()));
  if (missing.length > 0) {
    lost += missing.length;
    notes.push(`${who}: not followed on micro.blog: ${missing.join(", ")}`);
  }
  for (const [pair, n] of Object.entries(mb.followRequestsOf(who))) {
    if (n > 1) {
      duplicates += n - 1;
      notes.push(`${who}: ${n} follow requests for ${pair}`);
    }
  }
  const finished = chat.notified.flatMap((r) =>
    r.kind === "say" ? (FINISHED.exec(plain(r.text)) ?? []).slice(1, 3) : [],
  );
  const messages = finished.length / 2;
  if (walked.finished && messages === 0) {
    lost += 1;
    notes.push(`${who}: no finished message`);
  }
  if (messages > 1) {
    duplicates += messages - 1;
    notes.push(`${who}: ${messages} finished messages`);
  }
  if (messages >= 1) {
    const [moved, of] = finished.map(Number);
    if (moved !== person.followers || of !== person.followers) {
      lost += Math.abs(person.followers - (moved ?? 0));
      notes.push(`${who}: finished says ${moved} of ${of}, expected ${person.followers}`);
    }
  }
  return { lost, duplicates, notes };
}
