import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HostBudget, SharedHostBudget } from "../../src/jobs/host-budget.js";
import { openStore } from "../../src/store/open-store.js";

describe("HostBudget", () => {
  it("never grants more than the budget in any rolling hour, per host", () => {
    let t = 0;
    const budget = new HostBudget(600, () => t);
    const grants: number[] = [];
    for (t = 0; t < 3 * 3_600_000; t += 1000) {
      while (budget.tryTake("old.example")) grants.push(t);
    }
    for (let k = 0; k < grants.length; k++) {
      const inHour = grants.filter((g) => g >= grants[k]! && g < grants[k]! + 3_600_000).length;
      expect(inHour).toBeLessThanOrEqual(600);
    }
    expect(budget.tryTake("other.example")).toBe(true);
  });

  it("leaves room for a request still on its way: no rolling hour of arrivals holds more than the budget", () => {
    // A request the budget lets go reaches the server up to a minute later (a slow
    // connection, a queue before it); the server counts it when it arrives.
    const reachMs = 60_000;
    let t = 0;
    const budget = new HostBudget(600, () => t, 3_600_000, reachMs);
    const arrivals: number[] = [];
    // Early requests arrive as late as they can, later ones at once: the most a server could see.
    for (t = 0; t < 3 * 3_600_000; t += 1000) {
      while (budget.tryTake("old.example")) arrivals.push(t < 3_600_000 ? t + reachMs : t);
    }
    arrivals.sort((a, b) => a - b);
    let most = 0;
    for (let from = 0, to = 0; to < arrivals.length; to++) {
      while (arrivals[to]! - arrivals[from]! >= 3_600_000) from++;
      most = Math.max(most, to - from + 1);
    }
    expect(most).toBeLessThanOrEqual(600);
  });

  it("charges several requests at once and says when they will fit", () => {
    let t = 0;
    const budget = new HostBudget(360, () => t); // 60 at most at once, 300 more over the hour
    expect(budget.tryTake("h", 60)).toBe(true);
    expect(budget.tryTake("h", 1)).toBe(false);
    expect(budget.nextAt("h", 5)).toBe(60_000);
    t = 60_000;
    expect(budget.tryTake("h", 5)).toBe(true);
  });
});

describe("HostBudget's line", () => {
  it("gives refused requests places in turn, which no request without a place jumps", () => {
    let t = 0;
    const budget = new HostBudget(360, () => t); // 60 at once, then one every 12 s
    expect(budget.tryTake("h", 60)).toBe(true);
    const at = [0, 1, 2].map((k) => budget.reserve("h", 1, `k${k}`));
    expect(at).toEqual([12_000, 24_000, 36_000]);
    // Asked again, a place is kept, not taken twice.
    expect(budget.reserve("h", 1, "k2")).toBe(36_000);
    t = 12_000;
    expect(budget.tryTake("h")).toBe(false);
    expect(budget.tryTake("h", 1, "k1")).toBe(false);
    expect(budget.tryTake("h", 1, "k0")).toBe(true);
    t = 36_000;
    expect(budget.tryTake("h", 1, "k1")).toBe(true);
    expect(budget.tryTake("h", 1, "k2")).toBe(true);
    expect(budget.tryTake("h")).toBe(false);
  });

  it("places that come due together, after the process stalled, go no faster than the budget", () => {
    let t = 0;
    const budget = new HostBudget(360, () => t);
    expect(budget.tryTake("h", 60)).toBe(true);
    for (let k = 0; k < 100; k++) budget.reserve("h", 1, `k${k}`);
    // Twenty minutes without a turn of the event loop: all 100 are due, 100 refills promised;
    // but at most 60 may go at once, and the hour from here holds 60 + 300.
    t = 1_200_000;
    const waiting = new Set(Array.from({ length: 100 }, (_, k) => `k${k}`));
    const sent: number[] = [];
    const turn = () => {
      for (const key of waiting)
        if (budget.tryTake("h", 1, key)) {
          waiting.delete(key);
          sent.push(t);
        }
    };
    turn();
    expect(sent).toHaveLength(60);
    for (t = 1_200_000; t < 1_200_000 + 3_600_000; t += 1000) turn();
    expect(sent).toHaveLength(100);
    for (const from of sent)
      expect(sent.filter((s) => s >= from && s < from + 3_600_000).length).toBeLessThanOrEqual(360);
  });
});

describe("a place asked for more than it holds", () => {
  it("grows by the difference, which waits at the end of the line", () => {
    let t = 0;
    const budget = new HostBudget(360, () => t); // 60 at once, then one every 12 s
    expect(budget.tryTake("h", 60)).toBe(true);
    expect(budget.reserve("h", 1, "a")).toBe(12_000);
    expect(budget.reserve("h", 1, "b")).toBe(24_000);
    // "a" now wants its request and two more: two places after "b", not three more.
    expect(budget.reserve("h", 3, "a")).toBe(48_000);
    expect(budget.reserve("h", 1, "c")).toBe(60_000);
    t = 48_000;
    expect(budget.tryTake("h", 1, "a")).toBe(true);
    expect(budget.tryTake("h", 2, "a")).toBe(true);
    expect(budget.tryTake("h", 1, "a")).toBe(false);
  });
});

describe("SharedHostBudget, in Redis", () => {
  it("grows a place asked for more by the difference, in the shared line", async () => {
    const store = await openStore("redis://127.0.0.1:6379");
    try {
      const host = `h${randomUUID()}.example`;
      // 360 an hour: 60 at once, then one every 12 s (the refill of 300 an hour).
      const budget = new SharedHostBudget(store.limits!, 360);
      expect(await budget.tryTake(host, 60)).toBe(true);
      const start = Date.now();
      const a = (await budget.reserve(host, 1, "a")) - start;
      const grown = (await budget.reserve(host, 3, "a")) - start;
      const after = (await budget.reserve(host, 1, "b")) - start;
      // One place of 12 s, then two more at the end of the line (not three: 36 s more).
      expect(a).toBeGreaterThan(11_000);
      expect(a).toBeLessThanOrEqual(12_100);
      expect(grown).toBeGreaterThan(35_000);
      expect(grown).toBeLessThanOrEqual(36_100);
      expect(after).toBeGreaterThan(47_000);
      expect(after).toBeLessThanOrEqual(48_100);
    } finally {
      await store.close();
    }
  });

  it("two processes on one Redis together take what one may, and a place in line one takes holds back both", async () => {
    const stores = await Promise.all([1, 2].map(() => openStore("redis://127.0.0.1:6379")));
    try {
      const host = `h${randomUUID()}.example`;
      // 3,600 an hour: 1 a second, 600 at most at once; two processes share it.
      const [a, b] = stores.map((s) => new SharedHostBudget(s.limits!, 3600));
      const granted = await Promise.all(
        Array.from({ length: 800 }, (_, k) => (k % 2 ? a : b)!.tryTake(host) as Promise<boolean>),
      );
      const taken = granted.filter(Boolean).length;
      // 600 at once, and what refilled while asking (a second or two: 1 a second).
      expect(taken).toBeGreaterThanOrEqual(600);
      expect(taken).toBeLessThan(620);
      expect(await b!.tryTake(host)).toBe(false);
      expect(await b!.nextAt(host)).toBeGreaterThan(Date.now());
      // A place in line for 30 taken in one process, in debt: it comes up after 30 more
      // seconds, and the other process, without a place, doesn't jump it.
      expect(await a!.reserve(host, 30, "k")).toBeGreaterThan(Date.now() + 25_000);
      expect((await a!.tryTake(host)) || (await b!.tryTake(host))).toBe(false);
      expect(await b!.nextAt(host)).toBeGreaterThan(Date.now() + 25_000);
    } finally {
      for (const s of stores) await s.close();
    }
  });
});
