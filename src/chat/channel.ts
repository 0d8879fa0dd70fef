/**
 * What a channel can and cannot carry, so a step can choose how to ask without knowing which
 * channel it is on: whether a secret may be pasted into the chat, and how files reach the
 * person. The engine puts the traits of the person's channel into every step's context.
 */
import type { UserKey } from "./conversation.js";

export interface ChannelTraits {
  /**
   * Whether a secret (an access or app token) may be pasted into this chat. Where it may not
   * (a direct message lives on a server the bot doesn't own and can't delete), steps offer
   * OAuth, or a one-time web form, instead of asking for a token.
   */
  readonly secretsInChat: boolean;
  /** How a file reaches the person: attached, as a one-time download link, or not at all. */
  readonly files: "attach" | "links" | "none";
  /**
   * A one-time web form, bound to this person, where they can give a secret the chat must not
   * carry (micro.blog's app token). Absent where the bot has no public web side.
   */
  secretForm?(purpose: SecretPurpose): Promise<{ url: string; expiresAt: number }>;
  /** A one-time web form where the person can upload a file the chat can't carry. */
  uploadForm?(): Promise<{ url: string; expiresAt: number }>;
}

export type SecretPurpose = "microblog-token";

/** Telegram and the terminal: tokens may be pasted (their message is deleted), files attach. */
export const FULL_CHANNEL: ChannelTraits = { secretsInChat: true, files: "attach" };

/** The traits of the channel a user talks on, known by the key's prefix. */
export type ChannelsOf = (user: UserKey) => ChannelTraits;
