/**
 * Saved states from earlier versions of the journey, brought up to date on load,
 * so a user mid-migration keeps their place when the bot is upgraded. Each step
 * of the ladder takes one version to the next; the engine validates the result.
 */
type Raw = Record<string, unknown>;

const ladder: Record<number, (saved: Raw) => Raw> = {
  // v1 → v2: connect-new named the old account directly and counted an "export";
  // v2 names the source (account or uploaded file) and the snapshot's time.
  1: (saved) => {
    const lift = (state: Raw): Raw => {
      if (state.step !== "connect-new" || !("old" in state)) return state;
      const { old, exported, ...rest } = state as Raw & {
        exported?: { follows: number; at: number };
      };
      return {
        ...rest,
        source: { kind: "account", old },
        follows: exported?.follows ?? 0,
        snapshotAt: exported?.at ?? 0,
      };
    };
    return eachState(saved, 2, lift);
  },
  // v2 → v3: three steps renamed so their names can't be mixed up.
  2: (saved) =>
    eachState(saved, 3, (state) => {
      const renamed = RENAMED_IN_V3[state.step as string];
      return renamed ? { ...state, step: renamed } : state;
    }),
  // v3 → v4: cross-posting is asked with the alias, and both confirmed at once. Someone
  // who was at "crosspost" has the alias checked; the alias step asks both again, checks
  // the alias again (it passes), and goes on to the pre-flight checks.
  3: (saved) =>
    eachState(saved, 4, (state) =>
      state.step === "crosspost" ? { ...state, step: "alias" } : state,
    ),
};

const RENAMED_IN_V3: Record<string, string> = {
  "old-connect": "old-sign-in",
  "connect-new": "new-choose",
  "new-connect": "new-sign-in",
};

/** The saved value at version v, with `lift` applied to its state and to every state in its history. */
function eachState(saved: Raw, v: number, lift: (state: Raw) => Raw): Raw {
  return {
    ...saved,
    v,
    state: lift(saved.state as Raw),
    history: ((saved.history as Raw[] | undefined) ?? []).map(lift),
  };
}

/** The saved value at the current version, or the input unchanged when no rung fits. */
export function upgrade(raw: unknown, current: number): unknown {
  let saved = raw as Raw;
  while (saved && typeof saved === "object" && typeof saved.v === "number" && saved.v < current) {
    const rung = ladder[saved.v];
    if (!rung) break;
    saved = rung(saved);
  }
  return saved;
}
