/** The watch bench's figures, from what runWatches() recorded. */
import { percentile } from "./measure.js";
import { busiestBudgetHour, busiestWindow } from "./watch-budget.js";
import type { WatchRun } from "./watch-run.js";

export interface BudgetRow {
  domain: string;
  watches: number;
  requests: number;
  polls: number;
  /** Requests in the busiest hour as the budget counts hours (from a grant on) ÷ the budget. */
  budgetHour: number;
  /** Polls granted in that kind of hour ÷ the budget (≤ 1 when the budget works as written). */
  pollsBudgetHour: number;
  /** The same two in any span of an hour (a rolling window, as a server's limiter counts). */
  rolling: number;
  pollsRolling: number;
  /**
   * Requests the budget let go in any span of an hour, counted when it let them (the budget
   * holds this ≤ 1 by construction; the server counts them when they arrive, a little later).
   */
  takenRolling: number;
}

export function budgetRows(run: WatchRun, perHour: number, hourMs: number): BudgetRow[] {
  return run.hosts.map((h) => {
    const hour = busiestBudgetHour(h.grants.times, h.requests.times, hourMs);
    return {
      domain: h.domain,
      watches: h.watches,
      requests: h.requests.count,
      polls: h.grants.count,
      budgetHour: hour.requests / perHour,
      pollsBudgetHour: hour.grants / perHour,
      rolling: busiestWindow(h.requests.times, hourMs) / perHour,
      pollsRolling: busiestWindow(h.grants.times, hourMs) / perHour,
      takenRolling: busiestWindow(h.taken.times, hourMs) / perHour,
    };
  });
}

export interface Spread {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function spread(values: ArrayLike<number>): Spread {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: percentile(values, 100),
  };
}

export interface Delays {
  /** Settle → finished message, for accounts whose count settled above zero and for those that reached zero. */
  settled: Spread;
  zero: Spread;
  /** Settle → the watch's last request before the message: polling and deciding. */
  toLastRequest: Spread;
  /** That request → the message: finishing (the store, leases, the job index, the notifier). */
  lastRequestToMessage: Spread;
  pollGaps: Spread;
  /**
   * Ends decided later than the watch's own polls allow: the poll that decided (its last
   * lookup) later than settle + its longest poll interval since settling for a count settled
   * above zero (two intervals when an interval is longer than the settle), or later than that
   * interval at zero. What follows the decision (the list of
   * who stayed, the turn that sends the message) is "last request → message".
   */
  laterThanOwnPoll: { settled: number; zero: number };
  /** A few of those, to read: ms after settling that the watch decided, and its longest interval. */
  lateExamples: string[];
}

/** `settleMs` as the watches ran. */
export function delays(run: WatchRun, settleMs: number): Delays {
  const settled: number[] = [];
  const zero: number[] = [];
  const toLast: number[] = [];
  const lastToMsg: number[] = [];
  const late = { settled: 0, zero: 0 };
  const examples: string[] = [];
  for (let k = 0; k < run.watches; k++) {
    if (run.finishes[k] === 0) continue;
    const d = run.finishedAt[k]! - run.settleAt[k]!;
    (run.hasStragglers[k] ? settled : zero).push(d);
    const decided = run.lastPollAt[k]! - run.settleAt[k]!;
    // The poll that sees the last change never ends the watch (the quiet is counted from the
    // poll before it, and must hold at a poll that finds the count unchanged): with intervals
    // longer than the settle, that is two intervals. Production's settle (48 h) is far longer
    // than any interval the budget makes; a compressed run at 10,000 watches is not.
    const isLate = run.hasStragglers[k]
      ? decided > Math.max(settleMs, run.endGap[k]!) + run.endGap[k]!
      : decided > run.endGap[k]!;
    if (isLate) {
      if (run.hasStragglers[k]) late.settled += 1;
      else late.zero += 1;
      if (examples.length < 4)
        examples.push(
          `u${k}: decided ${(decided / 1000).toFixed(1)} s after settling, longest interval since ${(run.endGap[k]! / 1000).toFixed(1)} s`,
        );
    }
    toLast.push(run.lastPollAt[k]! - run.settleAt[k]!);
    lastToMsg.push(run.finishedAt[k]! - run.lastPollAt[k]!);
  }
  return {
    settled: spread(settled),
    zero: spread(zero),
    toLastRequest: spread(toLast),
    lastRequestToMessage: spread(lastToMsg),
    pollGaps: spread(run.pollGaps.times),
    laterThanOwnPoll: late,
    lateExamples: examples,
  };
}

export interface Messages {
  none: number;
  one: number;
  more: number;
}

export function messages(run: WatchRun): Messages {
  const m: Messages = { none: 0, one: 0, more: 0 };
  for (let k = 0; k < run.watches; k++) {
    const c = run.finishes[k]!;
    if (c === 0) m.none += 1;
    else if (c === 1) m.one += 1;
    else m.more += 1;
  }
  return m;
}
