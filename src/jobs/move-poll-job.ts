/**
 * From the Move's confirmation (or an early "I've moved"): every 20 seconds for
 * a while, tell the move step to look at the old account again; it moves the conversation on as soon
 * as the Move shows. Between looks the job waits on a timer, holding nothing;
 * it stops when the step no longer waits for it.
 */
import { z } from "zod";
import { JobData, type JobDataOf, type JobEvents } from "../model/jobs.js";
import type { JobHandler } from "./queue.js";

const Cursor = z.object({ looks: z.number() });

export function movePollJob(
  opts: { everyMs?: number } = {},
): JobHandler<JobDataOf<"move-poll">, z.infer<typeof Cursor>, JobEvents["move-poll"]> {
  const every = opts.everyMs ?? 20_000;
  return {
    kind: "move-poll",
    data: JobData["move-poll"],
    cursor: Cursor,
    async run(job, control) {
      const looks = job.cursor?.looks;
      if (looks === undefined) {
        // The step has just looked: the first look of ours is one interval later.
        await control.save({ looks: 0 });
        return { again: Date.now() + every };
      }
      if (Date.now() >= job.data.until) {
        await control.report({ event: "ended" });
        return undefined;
      }
      if ((await control.report({ event: "tick" })) === "stale") return undefined;
      await control.save({ looks: looks + 1 });
      return { again: Date.now() + every };
    },
  };
}
