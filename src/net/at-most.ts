/**
 * A bound on how many tasks run at once, shared by whoever holds it: asking many servers
 * (NodeInfo for the finished message, a look at each follow's server for the preview) goes
 * a few at a time, not all at once, whatever the number of callers. Waiting tasks start in
 * the order they came.
 */
export type AtMost = <T>(task: () => Promise<T>) => Promise<T>;

export function atMost(concurrency: number): AtMost {
  let running = 0;
  const waiting: (() => void)[] = [];
  const turn = async (): Promise<void> => {
    if (running < concurrency) {
      running += 1;
      return;
    }
    // The one leaving hands its place over (the count stays).
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const leave = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
  return async (task) => {
    await turn();
    try {
      return await task();
    } finally {
      leave();
    }
  };
}
