/**
 * micro.blog, by app token. It is verified once — micro.blog turns a
 * token that is verified again and again into an expiring one — and the token
 * it returns is the one kept, sealed. The message that carried it is deleted.
 * Then the account's Fediverse username, which can be chosen and live on the
 * blog's own domain: micro.blog's WebFinger answers for it; when that answer
 * isn't one clear handle, the user confirms it (new-microblog-handle).
 */
import { type Reply, say } from "../../chat/conversation.js";
import { b } from "../../chat/text.js";
import type { Verified } from "../../clients/microblog.js";
import type { StateOf } from "../../model/state.js";
import { RejectedError } from "../../net/errors.js";
import { explainRemote } from "../lib/explain.js";
import { journeyOf } from "../lib/journey.js";
import { pastedSecret } from "../lib/pasted-code.js";
import { connected } from "../lib/target-connected.js";
import { type Outcome, type Step, type StepContext, stay } from "../step.js";

const TOKEN = /^[A-Za-z0-9_\-.~+/=]{8,256}$/;

const OTHER = { id: "server", label: "Another server instead" };

const ask = say(
  [
    "Moving to micro.blog? On micro.blog, open ",
    b("Account → Edit Apps"),
    " (App tokens), create a token named fedimove, and paste it here. I'll delete your message at once.",
  ],
  {
    links: [{ label: "Open micro.blog's app tokens", url: "https://micro.blog/account/apps" }],
    choices: [OTHER],
  },
);

/**
 * Where the chat can't carry a token: a one-time page of the bot's (15 minutes, used once)
 * takes it; without one, the way that needs no token — the user's own import on micro.blog.
 */
async function askElsewhere(ctx: StepContext): Promise<Reply> {
  const form = await ctx.channel.secretForm?.("microblog-token");
  if (form) {
    return say(
      [
        "Moving to micro.blog? It connects by app token, and a token must never go into this chat. Open this page — it works once, for 15 minutes — and paste your token there (micro.blog → ",
        b("Account → Edit Apps"),
        ", a token named fedimove). I'll carry on here as soon as it arrives.",
      ],
      {
        links: [{ label: "Give me your micro.blog token", url: form.url }],
        choices: [{ id: "again", label: "A new link" }, OTHER],
      },
    );
  }
  return say(
    [
      "micro.blog connects only by app token, and a token must never go into this chat: it would stay on a server I can't delete it from. This bot has no web page to take it safely, so I can't follow people on micro.blog for you here.\n\n",
      "You can still import your follows yourself: download ",
      b("Follows"),
      " from your old server's Preferences → Import and export → Data export, and upload it on micro.blog under Account → View Fediverse Details → ",
      b("Import Follows"),
      ". Or move to another server, which I can sign in to by link.",
    ],
    { choices: [OTHER] },
  );
}

/**
 * The app token, verified once; the account it names becomes the target, under
 * its real Fediverse handle — or the user confirms which one it is.
 */
async function verified(
  state: StateOf<"new-microblog">,
  token: string,
  ctx: StepContext,
): Promise<Outcome> {
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
}

export const newMicroblog: Step<"new-microblog"> = {
  name: "new-microblog",
  takesSecret: (_state, ctx) => ctx.channel.secretsInChat,
  enter: async (_state, ctx) => [ctx.channel.secretsInChat ? ask : await askElsewhere(ctx)],
  async handle(state, input, ctx) {
    if (input.kind === "form" && input.purpose === "microblog-token") {
      return { ...(await verified(state, input.secret.trim(), ctx)), secret: true };
    }
    const other =
      (input.kind === "choice" && input.id === "server") ||
      (input.kind === "text" && /^another server( instead)?$/i.test(input.text.trim()));
    if (other) return { state: { step: "new-server", ...journeyOf(state) }, replies: [] };
    if (!ctx.channel.secretsInChat) {
      // Nothing typed here is used as a token: this chat can't carry one.
      return stay(state, await askElsewhere(ctx));
    }
    if (input.kind !== "text") return stay(state, ask);
    const notIt = "That doesn't look like an app token (one word of letters and digits).";
    return pastedSecret(state, input.text, { shape: TOKEN, notIt }, (token) =>
      verified(state, token, ctx),
    );
  },
};
