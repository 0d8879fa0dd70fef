/**
 * A reminder days away: the job waits on a timer (its due time is in the store,
 * so a restart neither loses nor repeats it) and then reports "due" to the step,
 * which asks the user — unless they moved on meanwhile.
 */
import { z } from "zod";
import { JobData, type JobDataOf, type JobEvents } from "../model/jobs.js";
import type { JobHandler } from "./queue.js";

export function reminderJob(): JobHandler<JobDataOf<"reminder">, null, JobEvents["reminder"]> {
  return {
    kind: "reminder",
    data: JobData.reminder,
    cursor: z.null(),
    async run(job, control) {
      if (Date.now() < job.data.at) return { again: job.data.at };
      await control.report({ event: "due" });
      return undefined;
    },
  };
}
