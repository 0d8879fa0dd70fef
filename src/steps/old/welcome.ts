/**
 * What a move does and doesn't do, and at once the first question: which server.
 * A server name is also "let's go", so the journey starts one message sooner.
 */
import { say } from "../../chat/conversation.js";
import { b } from "../../chat/text.js";
import { type Step, stay } from "../step.js";
import { SERVER_QUESTION, signInTo } from "./old-server.js";

const CHANGES = { id: "changes", label: "What changes exactly?" };

const intro = say(
  [
    "Hi! I'll move your Mastodon account to micro.blog (or another Fediverse server), one step at a time.\n\n",
    b("What moves:"),
    " your followers — their servers are asked to follow your new account — and, with my help, the people you follow.\n",
    b("What stays:"),
    " your posts, likes, boosts and bookmarks stay on the old server.\n\n",
    "It takes a few minutes of your time and a day or two of waiting. ",
    ...SERVER_QUESTION,
  ],
  { choices: [CHANGES] },
);

const details = say([
  b("Before you start\n"),
  "• Your followers are moved by their own servers, over hours or a day or two. Most come along; some servers ignore moves or are offline, and I'll tell you who stayed.\n",
  "• The people you follow don't move by themselves: I save them and follow them again from your new account.\n",
  "• Posts, likes and boosts stay behind. Lists, blocks, mutes and bookmarks need exporting; I'll save those too.\n",
  "• After the move your old account is locked and points to the new one. You can't move again for 30 days.\n",
  "• Switch off micro.blog's cross-posting to Mastodon before the move, or your posts will appear twice.\n\n",
  b("micro.blog is different:"),
  " no follower counts, no boosts, no trending. It is a blog with a timeline; your Fediverse handle will be @you@micro.blog unless you use your own domain.\n\n",
  "Ready? ",
  ...SERVER_QUESTION,
]);

export const welcome: Step<"welcome"> = {
  name: "welcome",
  canGoBack: false,
  enter: () => [intro],
  async handle(state, input, ctx) {
    if (input.kind === "choice" && input.id === "changes") return stay(state, details);
    // The button of the welcome before it asked for the server at once.
    if (input.kind === "choice" && input.id === "go")
      return { state: { step: "old-server" }, replies: [] };
    if (input.kind === "text") {
      const text = input.text.trim();
      if (/^(y|yes|ok|go|let'?s go|ready|start)\b/i.test(text))
        return { state: { step: "old-server" }, replies: [] };
      if (/\bchange/i.test(text) && /\s/.test(text)) return stay(state, details);
    }
    return signInTo(state, input, ctx);
  },
};
