/**
 * Thirty days after the finished message, the step is told it is time to forget
 * the user's data; the step decides (the user may have chosen to keep it).
 */
import { z } from "zod";
import { JobData, type JobDataOf, type JobEvents } from "../model/jobs.js";
import type { JobHandler } from "./queue.js";

export function forgetLaterJob(): JobHandler<
  JobDataOf<"forget-later">,
  null,
  JobEvents["forget-later"]
> {
  return {
    kind: "forget-later",
    data: JobData["forget-later"],
    cursor: z.null(),
    async run(job, control) {
      if (Date.now() < job.data.at) return { again: job.data.at };
      await control.report({ event: "due" });
      return undefined;
    },
  };
}
