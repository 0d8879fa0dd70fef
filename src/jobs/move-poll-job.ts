/**
 * After "I've moved" came too early: look at the old account's actor every 20
 * seconds for a while, and move the conversation on as soon as it shows the
 * Move (or shows it pointing elsewhere). Survives restarts like any job.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { say } from "../chat/conversation.js";
import { checkMoved } from "../clients/alias-check.js";
import type { World } from "../clients/world.js";
import type { Engine } from "../engine/engine.js";
import { handles } from "../steps/lib/moving.js";
import { afterVerdict } from "../steps/move/move.js";
import type { JobHandler } from "./runner.js";

export function movePollJob(deps: {
  engine: Engine;
  world: World;
  everyMs?: number;
}): JobHandler<{ until: number }> {
  const every = deps.everyMs ?? 20_000;
  return {
    kind: "move-poll",
    async run(job, control) {
      while (Date.now() < job.data.until) {
        await sleep(every, undefined, { signal: control.signal });
        const done = await deps.engine.advance(job.user, async (state, ctx) => {
          if (state.step !== "move" || state.pollJobId !== job.id) return null;
          return afterVerdict(
            state,
            await checkMoved(deps.world.fediverse, handles(state)),
            ctx.now(),
          );
        });
        if (done) return;
        const current = await deps.engine.state(job.user);
        if (current?.step !== "move") return;
      }
      await deps.engine.advance(job.user, (state) =>
        state.step === "move" && state.pollJobId === job.id
          ? {
              state: { ...state, pollJobId: undefined },
              replies: [
                say(
                  [
                    "I still don't see the move on the old account. Did its form show an error? Tap I've moved once it's done.",
                  ],
                  { choices: [{ id: "moved", label: "I've moved" }] },
                ),
              ],
            }
          : null,
      );
    },
  };
}
