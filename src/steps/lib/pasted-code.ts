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

export function pastedCode(
  state: State,
  text: string,
  host: string,
  prompt: Reply,
  finish: (code: string) => Promise<Outcome>,
): Promise<Outcome> {
  const notIt = `That doesn't look like the code ${host} shows after you approve.`;
  return pastedSecret(state, text, { shape: CODE, notIt, prompt }, finish);
}

/**
 * A secret (a code, a token) pasted as text: whatever it turns out to be, the
 * message is deleted; one that doesn't have the secret's shape is refused
 * before any server sees it, and `finish` gets the rest.
 */
export async function pastedSecret(
  state: State,
  text: string,
  expected: { shape: RegExp; notIt: string; prompt?: Reply },
  finish: (secret: string) => Promise<Outcome>,
): Promise<Outcome> {
  const secret = text.trim();
  if (!expected.shape.test(secret)) {
    return {
      state,
      secret: true,
      replies: [
        say([`${expected.notIt} I deleted your message to be safe.`]),
        ...(expected.prompt ? [expected.prompt] : []),
      ],
    };
  }
  return { ...(await finish(secret)), secret: true };
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
