/**
 * Posting an answer: each part a direct status that mentions the person and replies to the
 * part before it (the first to the person's message), each with an Idempotency-Key made from
 * the message and the part's place, so posting again after a crash returns the status already
 * posted instead of a second one. What has been posted is saved after every post.
 *
 * Pacing: the pacer holds a post while the server's window (300 statuses in 3 hours per
 * account, and Rack::Attack's request limits) has no room, from the X-RateLimit-* headers.
 * When the statuses window is down to its last post and more parts wait, that last post says
 * when the rest will come, so a wait is announced rather than the answer silently stalling.
 */
import { log } from "../../log.js";
import type { BotApi } from "./api.js";
import type { Inbox, Item } from "./inbox.js";

const timeOf = (d: Date) => `${d.toISOString().slice(11, 16)} UTC`;

export class Delivery {
  /** What the last post's answer said about the window. */
  private window: { remaining?: number; resetAt?: Date } = {};

  constructor(
    private readonly api: BotApi,
    private readonly inbox: Inbox,
  ) {}

  /** Posts what's left of the item's answer; resolves when it is all out (or given up). */
  async deliver(item: Item): Promise<void> {
    const posted = [...item.posted];
    for (let k = posted.length; k < item.posts.length; k++) {
      const part = item.posts[k]!;
      const inReplyTo = k === 0 ? item.replyTo : posted[k - 1]!;
      const more = k < item.posts.length - 1;
      if (more && this.window.remaining === 1 && this.window.resetAt) {
        const note = `@${item.acct} Mastodon lets me post only so much at a time; the rest of this answer follows at about ${timeOf(this.window.resetAt)}.`;
        const waited = await this.post(note, inReplyTo, `${part.key}-wait`);
        if (waited === "gone") break;
      }
      const id = await this.post(part.text, inReplyTo, part.key);
      if (id === "gone") break;
      posted.push(id);
      await this.inbox.update(item.id, { posted });
    }
    await this.inbox.done(item.id);
  }

  /** One post; "gone" when the server won't take it at all (logged, not retried). */
  private async post(
    text: string,
    inReplyTo: string | null,
    key: string,
  ): Promise<string | "gone"> {
    let res = await this.api.post(text, { inReplyTo, idempotencyKey: key });
    if ("refused" in res && res.refused === 404 && inReplyTo) {
      // The message it answers was deleted: the answer goes out on its own.
      res = await this.api.post(text, { inReplyTo: null, idempotencyKey: key });
    }
    if ("refused" in res) {
      log.error("mastodon-dm: the server refused a post", {
        status: res.refused,
        detail: res.detail,
      });
      return "gone";
    }
    this.window = { remaining: res.remaining, resetAt: res.resetAt };
    return res.status.id;
  }
}
