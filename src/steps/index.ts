/**
 * The journey, in order, by stage; the engine finds a state's step here.
 *
 *   old/     before you start (welcome), which server, signing in (OAuth, a
 *            pasted token, or an uploaded follows file), saving the account
 *   new/     where to: micro.blog by app token, or another server by OAuth
 *   import/  the preview, following everyone (or the user's own CSV import),
 *            the report, trying the new account for a few days
 *   move/    the old handle (file users), the alias and cross-posting (asked
 *            together), the pre-flight checks and the confirmation, the Move
 *   watch/   the followers moving, the finished message and the wrap-up
 *
 * lib/ holds what several steps share; it is not a step.
 */

import type { State, StepName } from "../model/state.js";
import { importDone } from "./import/import-done.js";
import { importPreview } from "./import/import-preview.js";
import { importWeb } from "./import/import-web.js";
import { importing } from "./import/importing.js";
import { trying } from "./import/trying.js";
import { alias } from "./move/alias.js";
import { move } from "./move/move.js";
import { movedElsewhere } from "./move/moved-elsewhere.js";
import { oldHandle } from "./move/old-handle.js";
import { preflight } from "./move/preflight.js";
import { newChoose } from "./new/new-choose.js";
import { newMicroblog } from "./new/new-microblog.js";
import { newMicroblogHandle } from "./new/new-microblog-handle.js";
import { newServer } from "./new/new-server.js";
import { newSignIn } from "./new/new-sign-in.js";
import { exporting } from "./old/exporting.js";
import { oldCsv } from "./old/old-csv.js";
import { oldServer } from "./old/old-server.js";
import { oldSignIn } from "./old/old-sign-in.js";
import { oldToken } from "./old/old-token.js";
import { welcome } from "./old/welcome.js";
import type { Step, StepFor } from "./step.js";
import { finished } from "./watch/finished.js";
import { watching } from "./watch/watching.js";

const steps: { [K in StepName]: Step<K> } = {
  welcome,
  "old-server": oldServer,
  "old-sign-in": oldSignIn,
  "old-token": oldToken,
  "old-csv": oldCsv,
  exporting,
  "new-choose": newChoose,
  "new-microblog": newMicroblog,
  "new-microblog-handle": newMicroblogHandle,
  "new-server": newServer,
  "new-sign-in": newSignIn,
  "import-preview": importPreview,
  importing,
  "import-web": importWeb,
  "import-done": importDone,
  trying,
  "old-handle": oldHandle,
  alias,
  preflight,
  move,
  watching,
  finished,
  "moved-elsewhere": movedElsewhere,
};

export const JOURNEY: readonly StepName[] = Object.keys(steps) as StepName[];

/**
 * The step a state is at. Every step takes its own state, and a state is always
 * at its own step, so the step of any state accepts that state: typed as the
 * step of every state, it needs no cast at the call.
 */
export function stepOf(state: State): StepFor<State> {
  return steps[state.step];
}
