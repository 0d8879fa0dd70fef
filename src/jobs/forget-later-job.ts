/**
 * Thirty days after the finished message, the user's data is deleted — unless
 * they chose to keep it (forgetAt set to null) or already forgot it themselves.
 */
import type { Engine } from "../engine/engine.js";
import type { JobHandler } from "./runner.js";

export function forgetLaterJob(deps: { engine: Engine }): JobHandler<{ at: number }> {
  return {
    kind: "forget-later",
    async run(job) {
      if (Date.now() < job.data.at) return { again: job.data.at };
      const state = await deps.engine.state(job.user);
      if (state?.step === "finished" && state.forgetAt !== null && state.forgetAt <= Date.now()) {
        await deps.engine.forgetData(job.user);
      }
    },
  };
}
