/**
 * What signing in by code, by callback and by pasted token have in common: check
 * the token with verify_credentials, seal it, and start the snapshot job.
 */
import { randomUUID } from "node:crypto";
import { say } from "../../chat/conversation.js";
import { b } from "../../chat/text.js";
import { scopesFor } from "../../clients/sign-in.js";
import type { Instance } from "../../model/state.js";
import { RejectedError } from "../../net/errors.js";
import type { Outcome, StepContext } from "../step.js";
import { explainRemote } from "./explain.js";

/** The outcome of a verified token: on to "exporting"; or, when it can't be used, a reason. */
export async function beginSnapshot(
  instance: Instance,
  token: string,
  via: "oauth" | "pasted",
  ctx: StepContext,
): Promise<{ ok: true; outcome: Omit<Outcome, "secret"> } | { ok: false; reason: string }> {
  let me: Awaited<ReturnType<ReturnType<StepContext["world"]["mastodon"]>["verifyCredentials"]>>;
  try {
    me = await ctx.world.mastodon(instance.origin, token).verifyCredentials();
  } catch (err) {
    return { ok: false, reason: tokenTrouble(err, instance) };
  }
  if (me.moved) {
    return {
      ok: false,
      reason: `@${me.username}@${instance.domain} has already moved to @${me.moved.acct}. I can only move an account that hasn't moved yet.`,
    };
  }
  const jobId = randomUUID();
  const old = {
    instance,
    id: me.id,
    handle: `${me.username}@${instance.domain}`,
    token: ctx.sealer.seal(token),
    via,
  };
  return {
    ok: true,
    outcome: {
      state: { step: "exporting", old, jobId, startedAt: ctx.now() },
      replies: [
        say(["Signed in as ", b(`@${old.handle}`), ". Saving everything the move will lock away…"]),
      ],
      jobs: [
        {
          kind: "snapshot",
          id: jobId,
          data: { old, following: me.following_count ?? null, followers: me.followers_count },
        },
      ],
    },
  };
}

function tokenTrouble(err: unknown, instance: Instance): string {
  const host = instance.host;
  if (err instanceof RejectedError) {
    if (err.status === 401) {
      return `${host} says that token isn't valid. Copy "Your access token" again (not the client key or secret) and paste it here.`;
    }
    if (err.status === 403 && /disabled/i.test(err.detail)) {
      return `${host} says this login is disabled — has the account already moved or been suspended? I can only move an active account.`;
    }
    if (err.status === 403) {
      return `That token can't read your profile. Make a new one with the scopes ${scopesFor(instance.version)} and paste it here.`;
    }
  }
  return `${explainRemote(err, host)} Nothing was saved; try again when ready.`;
}
