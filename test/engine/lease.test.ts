/**
 * Two engines on one store, as two processes would be. The first stalls in the
 * middle of a turn past its lease (its heartbeat can't renew it: a blocked or cut
 * off process); the second takes the user over and runs /cancel. When the first
 * wakes up, its turn must not be saved over the /cancel, nor its replies sent.
 * Redis and PostgreSQL are the real local servers; down, this fails, never skips.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ServerInfo } from "../../src/clients/world.js";
import { Engine, type Turn } from "../../src/engine/engine.js";
import { JobRunner } from "../../src/jobs/runner.js";
import { STATE_VERSION } from "../../src/model/state.js";
import { FencedOutError } from "../../src/store/errors.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";
import type { Store } from "../../src/store/store.js";
import { backendUrls, failingFirstFencedWrite, withoutHeartbeat } from "../helpers/backends.js";
import { render } from "../helpers/chat.js";
import { closedAfterEach } from "../helpers/closing.js";
import { fakeWorld } from "../helpers/fake-world.js";

const dir = mkdtempSync(join(tmpdir(), "fedimove-lease-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const opened = closedAfterEach<Store>();

const backends = backendUrls(dir);

for (const [name, url] of Object.entries(backends)) {
  describe(name, () => {
    it("a turn that stalled past its lease, taken over and cancelled meanwhile, is neither saved nor answered", async () => {
      const store = opened(await openStore(url()));
      const user = `tg:${randomBytes(4).readUInt32BE()}` as const;
      const sealer = new Sealer(randomBytes(32));
      // The first engine's probe of the server hangs until the test lets it go.
      let probing!: () => void;
      const probed = new Promise<void>((resolve) => {
        probing = resolve;
      });
      let wake!: (info: ServerInfo) => void;
      const stalled = fakeWorld({
        probeMastodon: () =>
          new Promise<ServerInfo>((resolve) => {
            wake = resolve;
            probing();
          }),
      });
      const first = new Engine({
        store: withoutHeartbeat(store),
        sealer,
        world: stalled,
        jobs: new JobRunner(store),
        userLeaseMs: 300,
      });
      const second = new Engine({
        store,
        sealer,
        world: fakeWorld(),
        jobs: new JobRunner(store),
        userLeaseMs: 300,
      });
      await store.namespace("users").set(user, {
        v: STATE_VERSION,
        seq: 1,
        state: { step: "old-server" },
        history: [],
        updatedAt: Date.now(),
      });

      const delivered: Turn[] = [];
      const slow = first.receive(user, { kind: "text", text: "hachyderm.io" }, async (turn) => {
        delivered.push(turn);
      });
      slow.catch(() => undefined);
      await probed;
      // Waits for the first engine's lease to run out, then takes the user.
      const cancel = await second.receive(user, { kind: "command", name: "cancel", args: "" });
      expect(render(cancel.replies)[0]).toMatch(/^Stopped\. Nothing is running for you now/);

      wake({ domain: "hachyderm.io", software: "mastodon", version: "4.3.2" });
      await expect(slow).rejects.toThrow(FencedOutError);
      expect(delivered).toEqual([]);
      expect(await second.state(user)).toEqual({ step: "welcome" });
      expect(await store.namespace("users").get(user)).toMatchObject({ seq: 2, history: [] });
      await store.namespace("users").delete(user);
    });
  });
}

describe("a job's report whose turn lost the user's lease", () => {
  it("is taken again from what is saved now, and answered once", async () => {
    const store = opened(await openStore("memory:"));
    const user = "tg:5" as const;
    const jobId = randomUUID();
    const sealer = new Sealer(randomBytes(32));
    const instance = {
      origin: "https://old.example",
      host: "old.example",
      domain: "old.example",
      version: "4.3.2",
    };
    await store.namespace("users").set(user, {
      v: STATE_VERSION,
      seq: 3,
      state: {
        step: "exporting",
        old: {
          instance,
          id: "1",
          handle: "ada@old.example",
          token: sealer.seal("t"),
          via: "pasted",
        },
        jobId,
        startedAt: Date.now(),
      },
      history: [],
      updatedAt: Date.now(),
    });
    // The first save of the user's state is refused, as when another process took the user.
    const takenOver = failingFirstFencedWrite(
      store,
      "users",
      (fence) => new FencedOutError(fence.lock, fence.generation),
    );
    const engine = new Engine({
      store: takenOver,
      sealer,
      world: fakeWorld(),
      jobs: new JobRunner(store),
    });
    const told: string[][] = [];
    engine.notifier = {
      async notify(_user, replies) {
        told.push(render(replies));
      },
    };
    const ack = await engine.report(user, {
      kind: "job",
      job: "snapshot",
      id: jobId,
      event: "failed",
      error: new Error("boom"),
    });
    expect(ack).toBe("taken");
    expect(takenOver.failed).toBe(true);
    expect((await engine.state(user))?.step).toBe("old-token");
    expect(told).toHaveLength(1);
    expect(told[0]?.[0]).toMatch(/^I couldn't finish saving your account/);
  });
});
