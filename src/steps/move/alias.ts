/**
 * The new account names the old one as an alias, and on micro.blog cross-posting
 * to Mastodon is switched off: two things on the new account's web pages, asked
 * together and confirmed with one answer. No API exists for either, so the bot
 * gives the exact place and text, then checks the new actor's alsoKnownAs itself
 * and says precisely what is wrong; cross-posting it can't see, so the person's
 * word is taken for it.
 */
import { aliasChecked, askAlias, goesOnUnchecked, saysDone, unchecked } from "../lib/alias-ask.js";
import { movingOf } from "../lib/moving.js";
import { type Step, stay } from "../step.js";

export const alias: Step<"alias"> = {
  name: "alias",
  enter: (state) => [askAlias(state)],
  async handle(state, input, ctx) {
    if (goesOnUnchecked(input)) {
      // The pre-flight checks again, and blocks on anything it can read that is wrong.
      return { state: { step: "preflight", ...movingOf(state) }, replies: [unchecked()] };
    }
    if (!saysDone(input)) return stay(state, askAlias(state));
    const checked = await aliasChecked(state, ctx);
    if (!checked.ok) return stay(state, checked.reply);
    return { state: { step: "preflight", ...movingOf(state) }, replies: [checked.reply] };
  },
};
