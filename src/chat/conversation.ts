/**
 * What crosses between a channel and the engine. Steps see only these shapes,
 * never Telegram or terminal objects.
 */
import { z } from "zod";
import type { Text } from "./text.js";

export const COMMANDS = ["start", "status", "back", "cancel", "forget", "help"] as const;
export type CommandName = (typeof COMMANDS)[number];

/** What a user sent, whatever the channel. */
export type Input =
  | { readonly kind: "text"; readonly text: string }
  /** A button. `seq` names the state the button was drawn for, so a stale press can be told apart. */
  | { readonly kind: "choice"; readonly id: string; readonly seq?: number }
  | {
      readonly kind: "file";
      readonly name: string;
      readonly size: number;
      read(): Promise<Uint8Array>;
    }
  | { readonly kind: "command"; readonly name: CommandName; readonly args: string }
  /** Anything a step can't read (a photo, a sticker, a voice note, an unknown command). */
  | { readonly kind: "other"; readonly what: string }
  /**
   * The user's browser came back from a server's sign-in page to the bot's web
   * side: `state` names the sign-in, `code` is there when the user approved.
   */
  | {
      readonly kind: "signed-in";
      readonly state: string;
      readonly code?: string;
      readonly denied?: boolean;
    }
  /**
   * A secret the person gave on the bot's one-time web form rather than in the chat (a
   * channel whose traits forbid secrets in chat): `purpose` says what the form asked for.
   */
  | { readonly kind: "form"; readonly purpose: "microblog-token"; readonly secret: string };

export interface Choice {
  readonly id: string;
  readonly label: string;
}

export interface Link {
  readonly label: string;
  readonly url: string;
}

/** What the bot says. */
export type Reply =
  | {
      readonly kind: "say";
      readonly text: Text;
      readonly choices?: readonly Choice[];
      readonly links?: readonly Link[];
    }
  | {
      readonly kind: "file";
      readonly name: string;
      readonly bytes: Uint8Array;
      readonly caption?: Text;
      /** How to get the file again, said when a channel can't deliver it. */
      readonly again?: Text;
    }
  /** Edited in place where the channel can; `key` names the message to edit. */
  | { readonly kind: "progress"; readonly key: string; readonly text: Text };

export const say = (text: Text, extra?: { choices?: Choice[]; links?: Link[] }): Reply => ({
  kind: "say",
  text,
  ...extra,
});

/** Who a message came from: the channel and its own id, e.g. `tg:123`, `console:local`. */
export type UserKey = `${"tg" | "console" | "mastodon"}:${string}`;
export const UserKeySchema = z.custom<UserKey>(
  (v) => typeof v === "string" && /^(tg|console|mastodon):./.test(v),
  "not a user key",
);

/**
 * How a channel delivers replies to a user outside a conversation turn (jobs,
 * reminders). It throws RecipientGoneError when the user can never be reached
 * again (blocked the bot, deleted their account), so the job can stop and forget;
 * DeliveredElsewhereError when another process delivers to this user (it has been
 * told), so the replies stay in the outbox for it.
 */
export interface Notifier {
  notify(...args: NotifyArgs): Promise<void>;
}

/**
 * What a notify call carries, named once for the channels and the router between them.
 * `id`: the message id from the engine's outbox; the same id may come again after a crash or
 * a failed send, and a channel that can tell delivers it at most once. `progress`: how far an
 * earlier delivery of it got, for a channel with no idempotency key of its own (Telegram).
 */
export type NotifyArgs = [
  user: UserKey,
  replies: readonly Reply[],
  seq?: number,
  id?: string,
  progress?: DeliveryProgress,
];

/**
 * How far the delivery of an outbox entry got, saved with it: the replies before `from` went out
 * already (skipped when it is delivered again); `sent(k)` saves that the first k have, so that
 * a process killed between two replies of one turn doesn't send the first again.
 */
export interface DeliveryProgress {
  readonly from: number;
  sent(count: number): Promise<void>;
}

export class RecipientGoneError extends Error {}

/**
 * Not sent from here, and nothing went wrong: another process sends to this user (the one
 * holding the DM intake) and has been asked to take the replies from the outbox now.
 */
export class DeliveredElsewhereError extends Error {}
