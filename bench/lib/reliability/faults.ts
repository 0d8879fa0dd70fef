/**
 * Faults: many people walk the whole journey at once while both servers fail a share of the
 * bot's requests at random (seeded: the same seed fails the same way, give or take the order
 * in which concurrent requests arrive). Each person has their own bot core (createCore through
 * the test chat helper) over the same two servers.
 */
import type { ChaosKind } from "../../../sandbox/chaos.js";
import type { WatchOptions } from "../../../src/jobs/watch-job.js";
import { makeChat } from "../../../test/helpers/chat.js";
import { audit } from "./audit.js";
import { walk } from "./journey.js";
import { startTown } from "./town.js";

/** The watch and its polls at test speed. */
export const FAST_WATCH: Partial<WatchOptions> = {
  budgetPerHour: 1_000_000,
  pollEarlyMs: 40,
  earlyForMs: 0,
  pollLateMs: 40,
  settleMs: 400,
  capMs: 60_000,
  forgetAfterMs: 600_000,
};

export interface FaultRun {
  people: number;
  /** The share of the bot's requests that fail, 0 to 1. */
  rate: number;
  seed: number;
  kinds?: ChaosKind[];
  /** How long one journey may take before it counts as stuck. */
  deadlineMs?: number;
}

export interface FaultFigures {
  journeys: number;
  finished: number;
  faultsInjected: number;
  lost: number;
  duplicates: number;
  notes: string[];
}

export async function runFaults(run: FaultRun): Promise<FaultFigures> {
  const town = await startTown({ people: run.people });
  try {
    // A request that hangs is given up by the bot after 1 s, then the server closes it.
    town.setChaos({ rate: run.rate, seed: run.seed, kinds: run.kinds, hangMs: 1500, slowMs: 200 });
    const audits = await Promise.all(
      town.people.map(async (person, i) => {
        const chat = await makeChat(town.world.loopback, {
          user: `tg:${1000 + i}`,
          pollMs: 30,
          watch: FAST_WATCH,
          timeoutMs: 1000,
        });
        const walked = await walk(chat, person, town, run.deadlineMs);
        // Let the last jobs settle before counting (a duplicate finished message comes late).
        await chat.jobs.idle();
        const result = await audit(chat, person, town, walked);
        await chat.core.close();
        return { walked, result };
      }),
    );
    return {
      journeys: run.people,
      finished: audits.filter((a) => a.walked.finished).length,
      faultsInjected: town.faultsInjected(),
      lost: audits.reduce((n, a) => n + a.result.lost, 0),
      duplicates: audits.reduce((n, a) => n + a.result.duplicates, 0),
      notes: audits.flatMap((a) => a.result.notes),
    };
  } finally {
    town.setChaos(null);
    await town.close();
  }
}
