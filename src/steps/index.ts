/** The journey, in order. The engine finds a state's step here. */
import { connectNew } from "./connect-new.js";
import { exporting } from "./exporting.js";
import { oldConnect } from "./old-connect.js";
import { oldCsv } from "./old-csv.js";
import { oldServer } from "./old-server.js";
import { oldToken } from "./old-token.js";
import type { State, StepName } from "./state.js";
import type { Step } from "./step.js";
import { welcome } from "./welcome.js";

const steps: { [K in StepName]: Step<K> } = {
  welcome,
  "old-server": oldServer,
  "old-connect": oldConnect,
  "old-token": oldToken,
  "old-csv": oldCsv,
  exporting,
  "connect-new": connectNew,
};

export const JOURNEY: readonly StepName[] = Object.keys(steps) as StepName[];

export function stepOf<S extends State>(state: S): Step<S["step"]> {
  return steps[state.step] as unknown as Step<S["step"]>;
}
