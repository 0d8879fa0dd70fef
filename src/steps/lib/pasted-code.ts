/**
 * An OAuth code the user pastes (no PUBLIC_URL), for the old account and the new
 * one alike: always deleted as a secret, checked for shape before the server is
 * asked, then traded by `finish`.
 */
import { type Reply, say } from "../../chat/conversation.js";
import type { State } from "../../model/state.js";
import type { Outcome } from "../step.js";

/** Authorization codes are short base64url words; anything else is not one. */
const CODE = /^[A-Za-z0-9_-]{8,128}$/;

export async function pastedCode(
  state: State,
  text: string,
  host: string,
  prompt: Reply,
  finish: (code: string) => Promise<Outcome>,
): Promise<Outcome> {
  const code = text.trim();
  if (!CODE.test(code)) {
    return {
      state,
      secret: true,
      replies: [
        say([
          `That doesn't look like the code ${host} shows after you approve. I deleted your message to be safe.`,
        ]),
        prompt,
      ],
    };
  }
  return { ...(await finish(code)), secret: true };
}
