/**
 * Step 2b: the old account's access token, pasted. It is sealed at once and the
 * message that carried it is deleted by the channel; a wrong token gets a clear
 * answer and the state stays where it was.
 */
import { randomUUID } from "node:crypto";
import { say } from "../bot/conversation.js";
import { b, code } from "../bot/text.js";
import { RejectedError } from "../clients/errors.js";
import { explainRemote } from "./explain.js";
import type { StateOf } from "./state.js";
import { type Step, stay } from "./step.js";

export const READ_SCOPES =
  "read:accounts read:follows read:lists read:blocks read:mutes read:bookmarks";
/** Mastodon's tokens are 43 base64url characters; other servers' differ a little. */
const TOKEN = /^[A-Za-z0-9_\-.~+/=]{16,256}$/;

function ask(state: StateOf<"old-token">) {
  const host = state.instance.host;
  return say(
    [
      `To read your follows, I need an access token from ${host}:\n`,
      `1. Open ${host} → Preferences → Development → `,
      b("New application"),
      ".\n",
      "2. Name it ",
      code("fedimove"),
      ", untick everything under Scopes, and tick only: ",
      code(READ_SCOPES),
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

export const oldToken: Step<"old-token"> = {
  name: "old-token",
  enter: (state) => [ask(state)],
  async handle(state, input, ctx) {
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
    const token = input.text.trim();
    if (!TOKEN.test(token)) {
      return {
        state,
        secret: true,
        replies: [
          say([
            "That doesn't look like an access token: it should be one word of about 43 letters and digits. I deleted your message to be safe. Try again?",
          ]),
        ],
      };
    }
    const host = state.instance.host;
    try {
      const me = await ctx.world.mastodon(state.instance.origin, token).verifyCredentials();
      if (me.moved) {
        return {
          state,
          secret: true,
          replies: [
            say([
              `@${me.username}@${state.instance.domain} has already moved to @${me.moved.acct}. I can only move an account that hasn't moved yet.`,
            ]),
          ],
        };
      }
      const jobId = randomUUID();
      const old = {
        instance: state.instance,
        id: me.id,
        handle: `${me.username}@${state.instance.domain}`,
        token: ctx.sealer.seal(token),
      };
      return {
        state: { step: "exporting", old, jobId, startedAt: ctx.now() },
        secret: true,
        replies: [say([`Signed in as `, b(`@${old.handle}`), ". Saving the people you follow…"])],
        jobs: [
          { kind: "export-follows", id: jobId, data: { old, total: me.following_count ?? null } },
        ],
      };
    } catch (err) {
      return { state, secret: true, replies: [say([tokenTrouble(err, host)])] };
    }
  },
};

function tokenTrouble(err: unknown, host: string): string {
  if (err instanceof RejectedError) {
    if (err.status === 401) {
      return `${host} says that token isn't valid. Copy "Your access token" again (not the client key or secret) and paste it here.`;
    }
    if (err.status === 403 && /disabled/i.test(err.detail)) {
      return `${host} says this login is disabled — has the account already moved or been suspended? I can only move an active account.`;
    }
    if (err.status === 403) {
      return `That token can't read your profile. Make a new one with the scopes ${READ_SCOPES} and paste it here.`;
    }
  }
  return `${explainRemote(err, host)} Your token wasn't saved; paste it again when ready.`;
}
