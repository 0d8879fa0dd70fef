/**
 * Reading the Telegram stand-in as a test does: a chat as the user sees it, waiting for the
 * bot to send something that matches, the command lists, and callback answers. Everything
 * returned is a copy.
 */

import { scopeKey } from "./telegram-commands.js";
import { view } from "./telegram-objects.js";
import type { TelegramState } from "./telegram-state.js";
import type { BotCommand, CallbackAnswer, ChatView, MessageView } from "./telegram-types.js";

export function chatView(state: TelegramState, userId: number): ChatView {
  const chat = state.chats.get(userId);
  const messages = chat ? chat.order.map((m) => view(state, m)) : [];
  return {
    userId,
    exists: chat !== undefined,
    blocked: state.users.get(userId)?.blocked ?? false,
    messages,
    bot: messages.filter((m) => m.from === "bot"),
    user: messages.filter((m) => m.from === "user"),
    actions: chat ? [...chat.actions] : [],
  };
}

/** The first bot message that matches, now or as soon as one arrives; rejects after timeoutMs. */
export function waitFor(
  state: TelegramState,
  userId: number,
  predicate: (m: MessageView) => boolean,
  timeoutMs = 5000,
): Promise<MessageView> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      let found: MessageView | undefined;
      try {
        found = chatView(state, userId).bot.find(predicate);
      } catch (err) {
        cleanup();
        reject(err);
        return true;
      }
      if (!found) return false;
      cleanup();
      resolve(found);
      return true;
    };
    const onChange = (id: number) => {
      if (id === userId) check();
    };
    const onClose = () => {
      cleanup();
      reject(new Error("waitFor: the sandbox was closed"));
    };
    const timer = setTimeout(() => {
      cleanup();
      const seen = chatView(state, userId).bot.map((m) => ({
        id: m.messageId,
        text: m.text,
        deleted: m.deleted,
      }));
      reject(
        new Error(
          `waitFor(${userId}): nothing matched within ${timeoutMs} ms; bot messages: ${JSON.stringify(seen)}`,
        ),
      );
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      state.events.off("change", onChange);
      state.closers.delete(onClose);
    };
    state.events.on("change", onChange);
    state.closers.add(onClose);
    check();
  });
}

/** The command list for a scope and language, as getMyCommands would answer. */
export function commandsFor(
  state: TelegramState,
  opts: { scope?: Record<string, unknown>; languageCode?: string } = {},
): BotCommand[] {
  const args: Record<string, string> = {};
  if (opts.scope) args.scope = JSON.stringify(opts.scope);
  if (opts.languageCode) args.language_code = opts.languageCode;
  return structuredClone(state.commandSets.get(scopeKey(state, args)) ?? []);
}

export function callbackAnswer(state: TelegramState, queryId: string): CallbackAnswer | undefined {
  const answer = state.callbacks.get(queryId)?.answer;
  return answer ? { ...answer } : undefined;
}
