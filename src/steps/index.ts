/** The journey, in order. The engine finds a state's step here. */

import { alias } from "./alias.js";
import { connectNew } from "./connect-new.js";
import { crosspost } from "./crosspost.js";
import { exporting } from "./exporting.js";
import { finished } from "./finished.js";
import { importDone } from "./import-done.js";
import { importPreview } from "./import-preview.js";
import { importWeb } from "./import-web.js";
import { importing } from "./importing.js";
import { move, movedElsewhere } from "./move.js";
import { newConnect } from "./new-connect.js";
import { newMicroblog } from "./new-microblog.js";
import { newServer } from "./new-server.js";
import { oldConnect } from "./old-connect.js";
import { oldCsv } from "./old-csv.js";
import { oldHandle } from "./old-handle.js";
import { oldServer } from "./old-server.js";
import { oldToken } from "./old-token.js";
import { preflight } from "./preflight.js";
import type { State, StepName } from "./state.js";
import type { Step } from "./step.js";
import { trying } from "./trying.js";
import { watching } from "./watching.js";
import { welcome } from "./welcome.js";

const steps: { [K in StepName]: Step<K> } = {
  welcome,
  "old-server": oldServer,
  "old-connect": oldConnect,
  "old-token": oldToken,
  "old-csv": oldCsv,
  exporting,
  "connect-new": connectNew,
  "new-microblog": newMicroblog,
  "new-server": newServer,
  "new-connect": newConnect,
  "import-preview": importPreview,
  importing,
  "import-web": importWeb,
  "import-done": importDone,
  trying,
  "old-handle": oldHandle,
  alias,
  crosspost,
  preflight,
  move,
  watching,
  finished,
  "moved-elsewhere": movedElsewhere,
};

export const JOURNEY: readonly StepName[] = Object.keys(steps) as StepName[];

export function stepOf<S extends State>(state: S): Step<S["step"]> {
  return steps[state.step] as unknown as Step<S["step"]>;
}
