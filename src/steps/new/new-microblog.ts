/**
 * micro.blog, by app token. It is verified once — micro.blog turns a
 * token that is verified again and again into an expiring one — and the token
 * it returns is the one kept, sealed. The message that carried it is deleted.
 * Then the account's Fediverse username, which can be chosen and live on the
 * blog's own domain: micro.blog's WebFinger answers for it; when that answer
 * isn't one clear handle, the user confirms it (new-microblog-handle).
 */
import { say } from "../../chat/conversation.js";
import { b } from "../../chat/text.js";
import type { Verified } from "../../clients/microblog.js";
import { RejectedError } from "../../net/errors.js";
import { explainRemote } from "../lib/explain.js";
import { journeyOf } from "../lib/journey.js";
import { pastedSecret } from "../lib/pasted-code.js";
import { connected } from "../lib/target-connected.js";
import { type Step, stay } from "../step.js";

const TOKEN = /^[A-Za-z0-9_\-.~+/=]{8,256}$/;

const ask = say(
  [
    "Now your micro.blog account. On micro.blog, open ",
    b("Account → Edit Apps"),
    " (App tokens), create a token named fedimove, and paste it here. I'll delete your message at once.",
  ],
  { links: [{ label: "Open micro.blog's app tokens", url: "https://micro.blog/account/apps" }] },
);

export const newMicroblog: Step<"new-microblog"> = {
  name: "new-microblog",
  enter: () => [ask],
  async handle(state, input, ctx) {
    if (input.kind !== "text") return stay(state, ask);
    const notIt = "That doesn't look like an app token (one word of letters and digits).";
    return pastedSecret(state, input.text, { shape: TOKEN, notIt }, async (token) => {
      const mb = ctx.world.microblog!;
      let account: Verified;
      try {
        account = await mb.verify(token);
      } catch (err) {
        const reason =
          err instanceof RejectedError && err.status < 500
            ? "micro.blog says that token isn't valid. Copy it again from Account → Edit Apps and paste it here."
            : `${explainRemote(err, mb.domain)} Paste the token again when ready.`;
        return { state, replies: [say([reason])] };
      }
      const sealed = ctx.sealer.seal(account.token);
      const finding = await mb.fediverseHandle(account);
      if (finding.kind === "unsure") {
        return {
          state: {
            step: "new-microblog-handle",
            ...journeyOf(state),
            domain: mb.domain,
            username: account.username,
            token: sealed,
            offers: finding.offers,
          },
          replies: [],
        };
      }
      const target = {
        kind: "microblog" as const,
        domain: mb.domain,
        username: account.username,
        handle: finding.handle,
        token: sealed,
      };
      return connected({ step: "new-choose", ...journeyOf(state) }, target, account.token, ctx);
    });
  },
};
