/**
 * /forget deletes everything kept under the user, everywhere: their state and
 * its history, the snapshot, sign-ins still waiting for a callback, their jobs'
 * records (finished ones too), and anything of theirs set aside as unreadable;
 * and revokes the tokens it can first. The check reads the SQLite file itself,
 * every table, after the turn: nothing may name the user or hold a token of theirs.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import type { UserKey } from "../../src/chat/conversation.js";
import { emptySnapshot } from "../../src/model/snapshot.js";
import type { Moving } from "../../src/model/state.js";
import { STATE_VERSION, type State } from "../../src/model/state.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";
import { makeChat } from "../helpers/chat.js";
import { closedAfterEach } from "../helpers/closing.js";
import { fakeWorld } from "../helpers/fake-world.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-forget-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const closing = closedAfterEach<{ close(): Promise<void> }>();

const USER: UserKey = "tg:424242";
const instance = (host: string) => ({
  origin: `https://${host}`,
  host,
  domain: host,
  version: "4.3.2",
});

/** Every row of every table in the file, as text. */
function everything(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .pluck()
      .all() as string[];
    return tables.flatMap((table) =>
      db
        .prepare(`SELECT * FROM "${table}"`)
        .all()
        .map((row) => `${table}: ${JSON.stringify(row)}`),
    );
  } finally {
    db.close();
  }
}

describe("engine: /forget", () => {
  it("leaves nothing in the store that names the user or holds a token of theirs", async () => {
    const file = join(dir, "forget.sqlite");
    const store = await openStore(`sqlite:${file}`);
    closing(store);
    const sealer = new Sealer(randomBytes(32));
    const revoked: Moving[] = [];
    const chat = await makeChat(
      fakeWorld({
        revokeAll: async (state) => {
          revoked.push(state);
          return "";
        },
      }),
      { store, sealer, user: USER },
    );
    closing(chat.core);

    const oldToken = sealer.seal("old-oauth-token");
    const newToken = sealer.seal("new-oauth-token");
    const [firstSignIn, secondSignIn] = [randomBytes(24), randomBytes(24)].map((b) =>
      b.toString("base64url"),
    );
    const old = {
      instance: instance("old.example"),
      id: "1",
      handle: "ada@old.example",
      token: oldToken,
      via: "oauth" as const,
    };
    const journey = {
      source: { kind: "account" as const, old },
      follows: 3,
      snapshotAt: Date.now(),
    };
    const history: State[] = [
      {
        step: "old-sign-in",
        instance: instance("old.example"),
        signIn: {
          state: firstSignIn!,
          url: "https://old.example/oauth",
          redirect: "callback",
          startedAt: 1,
        },
      },
      {
        step: "new-sign-in",
        ...journey,
        instance: instance("new.example"),
        signIn: {
          state: secondSignIn!,
          url: "https://new.example/oauth",
          redirect: "callback",
          startedAt: 2,
        },
      },
    ];
    const watching: State = {
      step: "watching",
      ...journey,
      target: {
        kind: "mastodon",
        instance: instance("new.example"),
        id: "9",
        handle: "ada@new.example",
        token: newToken,
      },
      oldHandle: "ada@old.example",
      movedAt: Date.now(),
      watchJobId: randomUUID(),
      quiet: false,
    };
    await store
      .namespace("users")
      .set(USER, { v: STATE_VERSION, seq: 7, state: watching, history, updatedAt: Date.now() });
    await store.namespace("snapshots").set(USER, emptySnapshot(Date.now()));
    for (const state of [firstSignIn!, secondSignIn!]) {
      await store
        .namespace("oauth-pending")
        .set(state, { user: USER, origin: "https://old.example", at: Date.now() }, 600_000);
    }
    // Records set aside as unreadable: an old state holding a token, a pending sign-in.
    const unreadable = store.namespace("unreadable");
    await unreadable.set(`users:${USER}`, [{ at: 1, issue: "x", value: { token: oldToken } }]);
    await unreadable.set(`oauth-pending:${firstSignIn}`, [
      { at: 1, issue: "x", value: { user: USER } },
    ]);
    // Jobs: one finished, one waiting days for its time, one prepared and never begun.
    const finished = randomUUID();
    await chat.jobs.start(USER, { kind: "reminder", id: finished, data: { at: Date.now() - 1 } });
    await chat.jobs.idle();
    expect((await chat.jobs.get(finished))?.status).toBe("done");
    await unreadable.set(`jobs:${finished}`, [{ at: 1, issue: "x", value: { user: USER } }]);
    const waiting = randomUUID();
    await chat.jobs.start(USER, {
      kind: "reminder",
      id: waiting,
      data: { at: Date.now() + 86_400_000 },
    });
    await chat.jobs.idle();
    expect(chat.jobs.waiting).toBe(1);
    await chat.jobs.prepare(USER, {
      kind: "snapshot",
      id: randomUUID(),
      data: { old, following: 3, followers: 2 },
    });

    const secrets = [USER, oldToken, newToken, firstSignIn!, secondSignIn!];
    const before = everything(file);
    for (const secret of secrets) expect(before.join("\n")).toContain(secret);

    const r = await chat.send("/forget");
    expect(r.text).toMatch(/^Done: I've deleted everything I had about you/);

    const after = everything(file);
    for (const secret of secrets) {
      expect(after.filter((row) => row.includes(secret))).toEqual([]);
    }
    expect(chat.jobs.waiting).toBe(0);
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({
      source: { old: { token: oldToken } },
      target: { token: newToken },
    });
  });
});
