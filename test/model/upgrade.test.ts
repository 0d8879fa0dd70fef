import { describe, expect, it } from "vitest";
import { Saved, STATE_VERSION } from "../../src/model/state.js";
import { upgrade } from "../../src/model/upgrade.js";

const old = {
  instance: { origin: "https://hachyderm.io", host: "hachyderm.io", domain: "hachyderm.io" },
  id: "1",
  handle: "ada@hachyderm.io",
  token: "s1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB.CCCC",
};

const target = {
  kind: "microblog",
  domain: "micro.blog",
  username: "ada",
  handle: "ada@micro.blog",
  token: old.token,
};

describe("saved state from an earlier version", () => {
  it("v1's connect-new is brought up to date and keeps the user's place", () => {
    const v1 = {
      v: 1,
      seq: 7,
      state: { step: "connect-new", old, exported: { follows: 412, at: 1_700_000_000_000 } },
      history: [{ step: "old-server" }, { step: "old-token", instance: old.instance }],
      updatedAt: 1,
    };
    const parsed = Saved.parse(upgrade(v1, STATE_VERSION));
    expect(parsed.v).toBe(STATE_VERSION);
    expect(parsed.seq).toBe(7);
    expect(parsed.state).toEqual({
      step: "new-choose",
      source: {
        kind: "account",
        old: { ...old, instance: { ...old.instance, version: "0.0.0" }, via: "pasted" },
      },
      follows: 412,
      snapshotAt: 1_700_000_000_000,
    });
    expect(parsed.history.map((h) => h.step)).toEqual(["old-server", "old-token"]);
  });

  it("v2's renamed steps keep the user's place, in the state and in the history", () => {
    const instance = { ...old.instance, version: "4.3.0" };
    const signIn = {
      state: "s".repeat(24),
      url: "https://hachyderm.io/oauth/authorize",
      redirect: "oob",
      startedAt: 1,
    };
    const v2 = {
      v: 2,
      seq: 3,
      state: { step: "old-connect", instance, signIn },
      history: [{ step: "welcome" }, { step: "old-server" }],
      updatedAt: 1,
    };
    const parsed = Saved.parse(upgrade(v2, STATE_VERSION));
    expect(parsed.state).toEqual({ step: "old-sign-in", instance, signIn });
    expect(parsed.history.map((h) => h.step)).toEqual(["welcome", "old-server"]);
  });

  it("v3's cross-posting step, now asked with the alias, lands on the alias step, in the state and in the history", () => {
    const moving = {
      source: {
        kind: "file",
        instance: { ...old.instance, version: "4.3.0" },
        name: "following_accounts.csv",
      },
      follows: 12,
      snapshotAt: 1,
      target,
      oldHandle: "ada@hachyderm.io",
    };
    const v3 = {
      v: 3,
      seq: 9,
      state: { step: "crosspost", ...moving },
      history: [
        { step: "alias", ...moving },
        { step: "crosspost", ...moving },
      ],
      updatedAt: 1,
    };
    const parsed = Saved.parse(upgrade(v3, STATE_VERSION));
    expect(parsed.v).toBe(STATE_VERSION);
    expect(parsed.state).toEqual({ step: "alias", ...moving });
    expect(parsed.history.map((h) => h.step)).toEqual(["alias", "alias"]);
  });

  it("v3's import under way keeps going, and asks afterwards whether to move, as it would have", () => {
    const v3 = {
      v: 3,
      seq: 4,
      state: {
        step: "importing",
        source: { kind: "account", old },
        follows: 12,
        snapshotAt: 1,
        target,
        jobId: "job-1",
        startedAt: 1,
      },
      history: [],
      updatedAt: 1,
    };
    const parsed = Saved.parse(upgrade(v3, STATE_VERSION));
    expect(parsed.state).toMatchObject({ step: "importing", jobId: "job-1", after: "ask" });
  });

  it("a state from the future or of unknown shape is left for the engine to set aside", () => {
    expect(Saved.safeParse(upgrade({ v: 99, state: {} }, STATE_VERSION)).success).toBe(false);
    expect(Saved.safeParse(upgrade("junk", STATE_VERSION)).success).toBe(false);
  });
});
