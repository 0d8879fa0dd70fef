/**
 * What is kept per user, keyed by the user: the saved place in the journey and
 * the snapshot of the old account. Both are read back through their schemas;
 * a saved state from an earlier version climbs the upgrade ladder first.
 */
import { z } from "zod";
import { Snapshot } from "../model/snapshot.js";
import { Saved, STATE_VERSION } from "../model/state.js";
import { upgrade } from "../model/upgrade.js";
import { collection } from "./collection.js";
import type { KeyValue, Store } from "./store.js";

const SavedAtAnyVersion = z.preprocess((raw) => upgrade(raw, STATE_VERSION), Saved);

export const savedStates = (store: Store): KeyValue<Saved> =>
  collection(store, "users", SavedAtAnyVersion);

export const snapshots = (store: Store): KeyValue<Snapshot> =>
  collection(store, "snapshots", Snapshot);

/** Every namespace keyed by the user, for /forget. */
export const USER_NAMESPACES = ["users", "snapshots"] as const;
