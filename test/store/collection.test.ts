import { describe, expect, it } from "vitest";
import { z } from "zod";
import { collection } from "../../src/store/collection.js";
import { openMemoryStore } from "../../src/store/memory-store.js";

const Point = z.object({ x: z.number(), y: z.number() });

describe("a namespace opened with its schema", () => {
  it("reads back what fits", async () => {
    const points = collection(openMemoryStore(), "points", Point);
    await points.set("a", { x: 1, y: 2 });
    expect(await points.get("a")).toEqual({ x: 1, y: 2 });
  });

  it("sets aside a record that doesn't fit, reads it as absent, and keeps a few per key", async () => {
    const store = openMemoryStore();
    const points = collection(store, "points", Point, () => 42);
    for (const bad of [{ x: "one" }, "junk", null, 1, [], { y: 0 }]) {
      await store.namespace("points").set("a", bad);
      expect(await points.get("a")).toBeUndefined();
      // Set aside, not left to fail again at every read.
      expect(await store.namespace("points").get("a")).toBeUndefined();
    }
    const aside = (await store.namespace("unreadable").get("points:a")) as unknown[];
    expect(aside).toHaveLength(5);
    expect(aside.at(-1)).toEqual({ at: 42, issue: expect.stringMatching(/^x: /), value: { y: 0 } });
  });
});
