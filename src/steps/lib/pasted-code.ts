/**
 * The two ways an OAuth code arrives, for the old account and the new one alike:
 * pasted by the user (no PUBLIC_URL) — always deleted as a secret, checked for
 * shape before the server is asked — or brought back by the browser to the
 * bot's callback page. Either way `finish` trades it.
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

/** The browser came back from the sign-in page: approved (with a code) or not. */
export async function signInReturned(
  state: State,
  input: { code?: string; denied?: boolean },
  finish: (code: string) => Promise<Outcome>,
): Promise<Outcome> {
  if (input.denied || !input.code) {
    return {
      state,
      ack: "failed",
      replies: [
        say([
          "You didn't approve the sign-in, so nothing changed. Tap “Sign in” to try again, or choose another way.",
        ]),
      ],
    };
  }
  return finish(input.code);
}
