/**
 * Where Mastodon sends the browser after the user approves, when PUBLIC_URL is
 * set: the `state` names the user (once, for 10 minutes), the code finishes the
 * sign-in in the chat, and the page only says to go back there. Nothing secret
 * is ever written into the page.
 */
import type { SignIn } from "../../clients/sign-in.js";
import type { Engine } from "../../engine/engine.js";

export interface Page {
  status: number;
  title: string;
  body: string;
}

const page = (status: number, title: string, body: string): Page => ({ status, title, body });

export function oauthCallback(deps: { signIn: Pick<SignIn, "claim">; engine: Engine }) {
  return async (url: URL): Promise<Page> => {
    const state = url.searchParams.get("state") ?? "";
    const code = url.searchParams.get("code") ?? undefined;
    const denied = url.searchParams.has("error") || !code;
    const claimed = await deps.signIn.claim(state);
    if (!claimed) {
      return page(
        400,
        "This sign-in link has expired",
        "It was already used, is older than 10 minutes, or belongs to another sign-in. Go back to the chat and tap “Sign in” again.",
      );
    }
    // The chat's step takes it from here, under the user's lock, and answers in the chat.
    const turn = await deps.engine.receive(claimed.user, {
      kind: "signed-in",
      state,
      code: denied ? undefined : code,
      denied,
    });
    if (turn.ack === "stale") {
      return page(
        409,
        "This sign-in is no longer waiting",
        "The chat has moved on since this link was made. Go back to the chat; /status shows where you are.",
      );
    }
    if (denied) return page(200, "Sign-in cancelled", "Nothing changed. You can close this page.");
    return turn.ack === "done"
      ? page(200, "You're signed in", "Go back to the chat to carry on. You can close this page.")
      : page(
          200,
          "Something went wrong",
          "The chat says what happened and what to do next. You can close this page.",
        );
  };
}
