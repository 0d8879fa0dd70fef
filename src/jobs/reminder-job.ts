/**
 * A reminder days away, as a job: it sleeps until its time (a restart resumes
 * the sleep from the saved time, so none is lost or sent twice) and then asks
 * the user whether they are ready — unless they moved on meanwhile.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Engine } from "../engine/engine.js";
import { reminderReply } from "../steps/import/trying.js";
import type { JobHandler } from "./runner.js";

export function reminderJob(deps: { engine: Engine }): JobHandler<{ at: number }> {
  return {
    kind: "reminder",
    async run(job, control) {
      // Long sleeps in slices, so a lost lease or /cancel is noticed within a minute.
      while (Date.now() < job.data.at) {
        await sleep(Math.min(60_000, job.data.at - Date.now()), undefined, {
          signal: control.signal,
        });
      }
      await deps.engine.advance(job.user, (state) =>
        state.step === "trying" && state.jobId === job.id
          ? { state, replies: [reminderReply(state)] }
          : null,
      );
    },
  };
}
