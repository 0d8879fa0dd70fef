/**
 * A turn that starts a job saves two things: the job and the state naming it.
 * When the store fails between the two, nothing is left half-written: a state
 * not saved leaves a prepared job the sweep discards unrun, and a state saved
 * whose job couldn't begin has it begun by the sweep.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Engine } from "../../src/engine/engine.js";
import { JobRunner } from "../../src/jobs/runner.js";
import { importReport, STATE_VERSION, type State } from "../../src/model/state.js";
import { StoreUnavailableError } from "../../src/store/errors.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { Sealer } from "../../src/store/seal.js";
import type { Store } from "../../src/store/store.js";
import { failingFirstFencedWrite } from "../helpers/backends.js";
import { render } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";

const USER = "tg:1";
const unavailable = () => new StoreUnavailableError("memory", "connection lost");

/** Ada has imported her follows; the step offers a reminder, which is a job. */
async function atImportDone(store: Store, sealer: Sealer) {
  const state: State = {
    step: "import-done",
    source: {
      kind: "file",
      instance: {
        origin: "https://old.example",
        host: "old.example",
        domain: "old.example",
        version: "4.3.2",
      },
      name: "following_accounts.csv",
    },
    follows: 3,
    snapshotAt: Date.now(),
    target: {
      kind: "microblog",
      domain: "micro.blog",
      username: "ada",
      handle: "ada@micro.blog",
      token: sealer.seal("app-token"),
    },
    report: importReport(),
  };
  await store
    .namespace("users")
    .set(USER, { v: STATE_VERSION, seq: 1, state, history: [], updatedAt: Date.now() });
}

function wired(store: Store, sealer: Sealer, runs: string[]) {
  const jobs = new JobRunner(store, { pendingMs: 0 });
  jobs.register({
    kind: "reminder",
    data: z.object({ at: z.number() }),
    cursor: z.null(),
    async run(job: { id: string }) {
      runs.push(job.id);
      return undefined;
    },
  });
  const engine = new Engine({ store, sealer, world: fakeWorld(), jobs });
  jobs.reporter = engine;
  return { jobs, engine };
}

/** Ada asks for the reminder while the store's first fenced write to `namespace` fails. */
async function remindFailing(namespace: string) {
  const store = openMemoryStore();
  const sealer = new Sealer(randomBytes(32));
  await atImportDone(store, sealer);
  const runs: string[] = [];
  const { jobs, engine } = wired(
    failingFirstFencedWrite(store, namespace, unavailable),
    sealer,
    runs,
  );
  const turn = await engine.receive(
    USER,
    { kind: "choice", id: "remind-3", seq: 1 },
    async () => {},
  );
  return { store, runs, jobs, engine, turn };
}

describe("engine: a turn that starts a job, with the store failing half-way", () => {
  it("the state not saved: the user is told nothing changed, and the job is discarded unrun", async () => {
    const { store, runs, jobs, engine, turn } = await remindFailing("users");
    expect(render(turn.replies)).toEqual([
      "I can't reach my storage right now — try again in a minute. Nothing changed.",
    ]);
    expect((await engine.state(USER))?.step).toBe("import-done");

    await jobs.resumeAll();
    await jobs.idle();
    expect(runs).toEqual([]);
    expect(await store.scored("jobs").upTo("due", Number.POSITIVE_INFINITY)).toEqual([]);
  });

  it("the state saved but the job not begun: the sweep begins it", async () => {
    const { runs, jobs, engine, turn } = await remindFailing("jobs");
    expect(render(turn.replies)[0]).toMatch(/remind you/i);
    const state = await engine.state(USER);
    if (state?.step !== "trying") throw new Error(`at ${state?.step}, not trying`);
    expect(runs).toEqual([]);

    await jobs.resumeAll();
    await jobs.idle();
    expect(runs).toEqual([state.jobId]);
    await jobs.stop();
  });
});
