/**
 * The Telegram channel in this process against the Telegram stand-in, with an engine that
 * answers each message with what `answer` says: what a Telegram user sees of the channel alone.
 */

import type { TelegramSandbox } from "../../sandbox/telegram.js";
import { TelegramChannel } from "../../src/channels/telegram.js";
import type { Input, Reply, UserKey } from "../../src/chat/conversation.js";
import type { Engine, Turn } from "../../src/engine/engine.js";

export type Answer = (input: Input, user: UserKey) => readonly Reply[];

export function channelOn(tg: TelegramSandbox, answer: Answer, opts: { retries?: number } = {}) {
  const engine = {
    async receive(user: UserKey, input: Input, deliver: (turn: Turn) => Promise<void>) {
      const turn: Turn = { replies: answer(input, user), seq: 1, secret: false, ack: "done" };
      await deliver(turn);
      return turn;
    },
  } as unknown as Engine;
  return new TelegramChannel({ token: tg.token, apiRoot: tg.url, engine, ...opts });
}
