/** What a transfer watch keeps between polls; the steps start one with newWatch. */
import { splitHandle } from "../clients/fediverse.js";

export interface WatchData {
  origin: string;
  username: string;
  /** The old account's domain, as in its handle (old.example). */
  domain?: string;
  startedAt: number;
  initial?: number;
  polls: number;
  last?: { at: number; count: number };
  first?: { at: number; count: number };
  lastChangeAt?: number;
  milestones: number[];
  /** The biggest servers among those still on the old account, from the last list read. */
  remaining?: { total: number; servers: [string, number][]; at: number };
  hidden?: boolean;
  /** The finished message went out (or the user can't be reached): nothing more to do. */
  done?: boolean;
}

export const newWatch = (origin: string, oldHandle: string, now: number): WatchData => ({
  origin,
  username: splitHandle(oldHandle).user,
  domain: splitHandle(oldHandle).host,
  startedAt: now,
  polls: 0,
  milestones: [],
});
