import { describe, expect, it } from "vitest";
import { OneTimePages } from "../../src/channels/web/one-time.js";
import { openMemoryStore } from "../../src/store/memory-store.js";

describe("one-time pages", () => {
  it("a form submitted twice at once, by two processes, is used exactly once", async () => {
    // Two stores on one backend: two bot processes behind one load balancer.
    const a = new OneTimePages(openMemoryStore("one-time-race"), "https://bot.example");
    const b = new OneTimePages(openMemoryStore("one-time-race"), "https://bot.example");
    const { url } = await a.secretForm("tg:1", "microblog-token");
    const id = url.split("/").at(-1)!;
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, k) => (k % 2 ? a : b).claim(id, "secret")),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await a.peek(id, "secret")).toBeUndefined();
  });

  it("a page of one kind can't be used as another", async () => {
    const pages = new OneTimePages(openMemoryStore(), "https://bot.example");
    const { url } = await pages.uploadForm("tg:1");
    const id = url.split("/").at(-1)!;
    expect(await pages.claim(id, "secret")).toBeUndefined();
    expect(await pages.claim(id, "upload")).toMatchObject({ kind: "upload", user: "tg:1" });
  });
});
