/**
 * How fast one person's messages are taken: a bucket per person (`perMinute` at once, refilled
 * at that rate), so someone sending a flood waits for their own answers while everyone else's
 * are answered as usual, and one sender can't spend the bot's posting budget alone.
 */
import type { UserKey } from "../../chat/conversation.js";

export class PersonLimit {
  private readonly buckets = new Map<UserKey, { tokens: number; at: number }>();

  constructor(private readonly perMinute: number) {}

  /** Resolves when this person may have one more message answered. */
  async wait(user: UserKey): Promise<void> {
    for (;;) {
      const now = Date.now();
      const b = this.buckets.get(user) ?? { tokens: this.perMinute, at: now };
      b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
      b.at = now;
      this.buckets.set(user, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, ((1 - b.tokens) * 60_000) / this.perMinute));
    }
  }
}
