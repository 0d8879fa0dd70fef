/**
 * micro.blog no longer takes the app token the bot holds (the user deleted it,
 * or it expired): nothing else can work for this user, so back to pasting a
 * token (new-microblog asks for it), and the preview after it counts what's left.
 */
import { say } from "../../chat/conversation.js";
import { TokenRejectedError } from "../../clients/new-account.js";
import type { StateOf } from "../../model/state.js";
import { journeyOf } from "../lib/journey.js";
import type { Outcome } from "../step.js";

type Importing = StateOf<"importing"> | StateOf<"import-web">;

/** Whether this failure is micro.blog refusing the token itself. */
export const tokenGone = (state: Importing, err: unknown): boolean =>
  err instanceof TokenRejectedError && state.target.kind === "microblog";

/** `what`: what was under way, as a sentence opening ("I had to stop following"). */
export function askNewToken(state: Importing, what: string, after: string): Outcome {
  const t = state.target;
  return {
    state: { step: "new-microblog", ...journeyOf(state) },
    replies: [
      say([
        `${what}: ${t.kind === "microblog" ? t.domain : t.instance.host} no longer accepts my app token for @${t.handle} — it was deleted, or it expired.${after}`,
      ]),
    ],
  };
}
