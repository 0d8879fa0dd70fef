import { describe, expect, it } from "vitest";
import { HostBudget } from "../../src/jobs/host-budget.js";

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
