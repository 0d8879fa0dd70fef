/**
 * What a test opens — stand-ins, stores, worlds — closed after it, whatever
 * happened. Each test file gets its own list by calling this at top level.
 */
import { afterEach } from "vitest";

export function closedAfterEach<T extends { close(): Promise<unknown> }>(): (opened: T) => T {
  const open: T[] = [];
  afterEach(async () => {
    for (const x of open.splice(0)) await x.close();
  });
  return (opened) => {
    open.push(opened);
    return opened;
  };
}
