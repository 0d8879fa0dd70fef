/**
 * The store goes away in the middle of a journey: the user is told so in plain
 * words, nothing they had is changed, and the next message works once the store
 * is back. The store is the real local Redis, reached through a proxy the test
 * takes down (test/helpers/tcp-proxy.ts).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { REDIS_URL } from "../helpers/backends.js";
import { makeChat } from "../helpers/chat.js";
import { closedAfterEach } from "../helpers/closing.js";
import { fakeWorld } from "../helpers/fake-world.js";
import { eventually, proxiedStore } from "../helpers/tcp-proxy.js";

const closing = closedAfterEach<{ close(): Promise<void> }>();

describe("engine: the store unreachable", () => {
  it("says so, changes nothing, and carries on once the store is back", async () => {
    const { proxy, store } = await proxiedStore(REDIS_URL, closing);
    const user = `tg:${randomBytes(4).readUInt32BE()}` as const;
    const chat = await makeChat(fakeWorld(), { store, user });
    closing(chat.core);
    await chat.send("/start");
    const before = await store.namespace("users").get(user);

    await proxy.down();
    const r = await chat.send("hachyderm.io");
    expect(r.text).toBe(
      "I can't reach my storage right now — try again in a minute. Nothing changed.",
    );
    // It may have been a secret: the channel deletes it.
    expect(r.secret).toBe(true);

    await proxy.up();
    await eventually(async () => expect(await store.namespace("users").get(user)).toEqual(before));
    const next = await chat.send("hachyderm.io");
    expect(next.text).toMatch(/^Tap to let me read your account/);
    await chat.send("/forget");
  });
});
