import { describe, expect, it } from "vitest";
import { atMost } from "../../src/net/at-most.js";

/** A task the test finishes by hand, and whether it has started. */
function gate<T>() {
  let open!: (v: T) => void;
  let fail!: (err: Error) => void;
  const done = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  const task = {
    started: false,
    open,
    fail,
    run: () => {
      task.started = true;
      return done;
    },
  };
  return task;
}

/** Lets every promise that can settle settle. */
const settle = () => new Promise((r) => setImmediate(r));

describe("atMost", () => {
  it("runs at most n tasks at once, the others in the order they came as places free", async () => {
    const limit = atMost(2);
    const tasks = Array.from({ length: 5 }, (_, k) => ({ k, g: gate<number>() }));
    const results = tasks.map(({ g }) => limit(g.run));
    await settle();
    expect(tasks.map(({ g }) => g.started)).toEqual([true, true, false, false, false]);

    tasks[1]!.g.open(1);
    await settle();
    expect(tasks.map(({ g }) => g.started)).toEqual([true, true, true, false, false]);

    tasks[0]!.g.open(0);
    tasks[2]!.g.open(2);
    await settle();
    expect(tasks.map(({ g }) => g.started)).toEqual([true, true, true, true, true]);
    tasks[3]!.g.open(3);
    tasks[4]!.g.open(4);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4]);
  });

  it("frees the place of a task that fails, and hands its error to its caller", async () => {
    const limit = atMost(1);
    const first = gate<string>();
    const second = gate<string>();
    const failed = limit(first.run);
    const next = limit(second.run);
    await settle();
    expect(second.started).toBe(false);

    first.fail(new Error("server not answering"));
    await expect(failed).rejects.toThrow("server not answering");
    await settle();
    expect(second.started).toBe(true);
    second.open("answered");
    expect(await next).toBe("answered");
  });

  it("bounds every caller that shares it, and starts anew once all are done", async () => {
    const limit = atMost(3);
    let running = 0;
    let most = 0;
    const task = async () => {
      running += 1;
      most = Math.max(most, running);
      await settle();
      running -= 1;
    };
    const caller = () => Promise.all(Array.from({ length: 10 }, () => limit(task)));
    await Promise.all([caller(), caller(), caller()]);
    expect(most).toBe(3);
    most = 0;
    await caller();
    expect(most).toBe(3);
  });
});
