/**
 * The alternative: the old account's access token, pasted. It is sealed
 * at once and the message that carried it is deleted by the channel; a wrong
 * token gets a clear answer and the state stays where it was.
 */
import { say } from "../../chat/conversation.js";
import { b, code } from "../../chat/text.js";
import { scopesFor } from "../../clients/sign-in.js";
import type { StateOf } from "../../model/state.js";
import { beginSnapshot } from "../lib/begin-snapshot.js";
import { pastedSecret } from "../lib/pasted-code.js";
import { type Step, stay } from "../step.js";

/** Mastodon's tokens are 43 base64url characters; other servers' differ a little. */
const TOKEN = /^[A-Za-z0-9_\-.~+/=]{16,256}$/;

function ask(state: StateOf<"old-token">) {
  const host = state.instance.host;
  return say(
    [
      `To read your account, I need an access token from ${host}:\n`,
      `1. Open ${host} → Preferences → Development → `,
      b("New application"),
      ".\n",
      "2. Name it ",
      code("fedimove"),
      ", untick everything under Scopes, and tick only: ",
      code(scopesFor(state.instance.version)),
      ".\n",
      "3. Submit, open the new application and copy ",
      b("Your access token"),
      ".\n\n",
      "Paste it here. It's read-only, I'll delete your message at once, and you can revoke it any time.",
    ],
    {
      links: [
        {
          label: `Open ${host}'s development settings`,
          url: `${state.instance.origin}/settings/applications/new`,
        },
      ],
    },
  );
}

/** Where the chat can't carry a token: sign in by link instead, or send the follows file. */
function elsewhere(state: StateOf<"old-token">) {
  return say(
    [
      `I can't take an access token in this chat: it would stay on a server I can't delete it from. Sign in to ${state.instance.host} by link instead — read-only, and you can revoke it any time — or send me your follows file.`,
    ],
    {
      choices: [
        { id: "sign-in", label: "Sign in by link" },
        { id: "csv", label: "Upload a file instead" },
      ],
    },
  );
}

export const oldToken: Step<"old-token"> = {
  name: "old-token",
  takesSecret: (_state, ctx) => ctx.channel.secretsInChat,
  enter: (state, ctx) => [ctx.channel.secretsInChat ? ask(state) : elsewhere(state)],
  async handle(state, input, ctx) {
    if (!ctx.channel.secretsInChat) {
      if (input.kind === "choice" && input.id === "csv")
        return { state: { step: "old-csv", instance: state.instance }, replies: [] };
      if (input.kind === "choice" && input.id === "sign-in") {
        try {
          const begun = await ctx.world.signIn.begin(ctx.user, state.instance);
          return {
            state: {
              step: "old-sign-in",
              instance: state.instance,
              signIn: { ...begun, startedAt: ctx.now() },
            },
            replies: [],
          };
        } catch {
          return {
            state: { step: "old-sign-in", instance: state.instance, signIn: null },
            replies: [],
          };
        }
      }
      // Whatever was typed is neither kept nor used: it may be the token this chat can't take.
      return stay(state, elsewhere(state));
    }
    if (input.kind !== "text") {
      return stay(
        state,
        say([
          "Paste the access token as a text message — the long string under ",
          b("Your access token"),
          ".",
        ]),
      );
    }
    const notIt =
      "That doesn't look like an access token: it should be one word of about 43 letters and digits.";
    return pastedSecret(state, input.text, { shape: TOKEN, notIt }, async (token) => {
      const begun = await beginSnapshot(state.instance, token, "pasted", ctx);
      return begun.ok ? begun.outcome : { state, replies: [say([begun.reason])] };
    });
  },
};
