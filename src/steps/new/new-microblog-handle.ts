/**
 * micro.blog took the app token, but its answer about the account's Fediverse
 * username wasn't one clear handle (a name chosen apart from the username, a
 * former one still answering, a server that didn't answer). The alias, the Move
 * and the checks around them all hang on it, so the user confirms it: a button
 * per handle micro.blog answered for, or the handle typed, checked on WebFinger
 * and required to be one micro.blog serves.
 */
import { type Reply, say } from "../../chat/conversation.js";
import { b, code } from "../../chat/text.js";
import { parseAccountAddress, sameHandle, splitHandle } from "../../model/handle.js";
import type { StateOf } from "../../model/state.js";
import { explainRemote } from "../lib/explain.js";
import { journeyOf } from "../lib/journey.js";
import { connected } from "../lib/target-connected.js";
import { type Outcome, type Step, type StepContext, stay } from "../step.js";

const WHERE = "Account → View Fediverse Details";

function ask(state: StateOf<"new-microblog-handle">): Reply {
  const choices = state.offers.map((h, k) => ({ id: `handle:${k}`, label: `@${h}` }));
  if (choices.length === 0) {
    return say([
      "micro.blog took your token, but didn't tell me your Fediverse username. Type it as micro.blog shows it under ",
      b(WHERE),
      ", like ",
      code("@you@example.com"),
      ".",
    ]);
  }
  return say(
    [
      `micro.blog took your token, but its answer about your Fediverse username wasn't clear. Which is yours? It's the one under `,
      b(WHERE),
      " on micro.blog: tap it, or type it like ",
      code("@you@example.com"),
      ".",
    ],
    { choices },
  );
}

async function confirmed(
  state: StateOf<"new-microblog-handle">,
  handle: string,
  ctx: StepContext,
): Promise<Outcome> {
  const target = {
    kind: "microblog" as const,
    domain: state.domain,
    username: state.username,
    handle,
    token: state.token,
  };
  const token = ctx.sealer.unseal(state.token);
  return connected({ step: "new-choose", ...journeyOf(state) }, target, token, ctx);
}

async function typed(
  state: StateOf<"new-microblog-handle">,
  text: string,
  ctx: StepContext,
): Promise<Outcome> {
  const parsed = parseAccountAddress(text);
  if (!parsed.ok) return stay(state, say([`That isn't a handle: ${parsed.reason}.`]), ask(state));
  const shown = `@${parsed.acct}`;
  if (state.source.kind === "account" && sameHandle(state.source.old.handle, parsed.acct)) {
    return stay(
      state,
      say([`${shown} is the account you're moving from. Type your micro.blog one instead.`]),
    );
  }
  const mb = ctx.world.microblog;
  if (!mb) return stay(state, say(["micro.blog isn't set up on this bot any more."]));
  const check = await mb.checkHandle(parsed.acct);
  switch (check.kind) {
    case "ok":
      return confirmed(state, check.handle, ctx);
    case "no-account":
      return stay(
        state,
        say([
          `${splitHandle(check.handle).host} says there is no account ${shown} — check the spelling.`,
        ]),
      );
    case "not-microblog":
      return stay(
        state,
        say([
          `${shown} isn't on micro.blog. Type the Fediverse username micro.blog shows under `,
          b(WHERE),
          ".",
        ]),
      );
    case "unreachable":
      return stay(
        state,
        say([
          `I couldn't check ${shown}: ${explainRemote(check.error, splitHandle(check.handle).host)}`,
        ]),
      );
  }
}

export const newMicroblogHandle: Step<"new-microblog-handle"> = {
  name: "new-microblog-handle",
  enter: (state) => [ask(state)],
  async handle(state, input, ctx) {
    if (input.kind === "choice") {
      const k = /^handle:(\d+)$/.exec(input.id)?.[1];
      const handle = k === undefined ? undefined : state.offers[Number(k)];
      if (handle) return confirmed(state, handle, ctx);
    }
    if (input.kind === "text") return typed(state, input.text, ctx);
    return stay(state, ask(state));
  },
};
