/**
 * Reading "which server?" — for the old account and for the new one alike: what
 * the user typed, checked, and the server asked whether it speaks Mastodon's API.
 */
import { type Reply, say } from "../../chat/conversation.js";
import { code } from "../../chat/text.js";
import { parseInstance } from "../../clients/instance.js";
import type { Instance } from "../../model/state.js";
import type { StepContext, StepInput } from "../step.js";
import { explainRemote } from "./explain.js";

export async function askServer(
  input: StepInput,
  ctx: StepContext,
  example: string,
): Promise<{ ok: true; instance: Instance } | { ok: false; reply: Reply }> {
  if (input.kind !== "text") {
    return {
      ok: false,
      reply: say(["I need the name of your server as text, like ", code(example), "."]),
    };
  }
  const parsed = parseInstance(input.text, ctx.world.allowPrivateNetwork);
  if (!parsed.ok) {
    return {
      ok: false,
      reply: say([parsed.reason, " Send just the server's name, like ", code(example), "."]),
    };
  }
  // Every request goes where the world says the host is, the first probe included: in the
  // sandbox, the name a stand-in plays is reached at that stand-in.
  const origin = ctx.world.originOf(parsed.host);
  try {
    const info = await ctx.world.probeMastodon(origin);
    return {
      ok: true,
      instance: {
        origin,
        host: parsed.host,
        domain: info.domain,
        version: info.version,
      },
    };
  } catch (err) {
    return {
      ok: false,
      reply: say([explainRemote(err, parsed.host), " Send the server's name again when ready."]),
    };
  }
}
