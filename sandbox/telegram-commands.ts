/**
 * Bot commands in the Telegram stand-in: setMyCommands, getMyCommands and deleteMyCommands per
 * scope and language, with the Bot API's parsing of BotCommandScope and BotCommand and
 * Telegram's limits (at most 100 commands, [a-z0-9_]{1,32}, descriptions 1-256 characters).
 */

import { z } from "zod";
import { bad, FieldError, parseJsonArg, tdInt, tdParse, tdString } from "./telegram-errors.js";
import type { TelegramState } from "./telegram-state.js";
import type { BotCommand } from "./telegram-types.js";

const commandScopeSchema = z.object({
  type: tdString,
  chat_id: tdString.optional(),
  user_id: tdInt.optional(),
});

/** The key of a command list: scope type, chat, user and language, checked as the Bot API does. */
export function scopeKey(state: TelegramState, args: Record<string, string>): string {
  let scope: z.infer<typeof commandScopeSchema> = { type: "default" };
  if (args.scope) {
    const value = parseJsonArg(args.scope, "Can't parse BotCommandScope JSON object");
    try {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new FieldError("BotCommandScope must be an Object");
      }
      scope = tdParse(commandScopeSchema, value);
      const simple = ["default", "all_private_chats", "all_group_chats", "all_chat_administrators"];
      if (!simple.includes(scope.type)) {
        if (!["chat", "chat_administrators", "chat_member"].includes(scope.type)) {
          throw new FieldError("Unsupported type specified");
        }
        if (scope.chat_id === undefined) throw new FieldError(`Can't find field "chat_id"`);
        if (scope.chat_id === "") throw new FieldError("Empty chat_id specified");
        if (scope.type === "chat_member") {
          if (scope.user_id === undefined) throw new FieldError(`Can't find field "user_id"`);
          if (scope.user_id <= 0) throw new FieldError("Invalid user_id specified");
        }
      }
    } catch (e) {
      if (e instanceof FieldError) throw bad(`Can't parse BotCommandScope: ${e.message}`);
      throw e;
    }
    if (scope.chat_id !== undefined) state.resolveChat(scope.chat_id);
    if (scope.type === "chat_administrators" || scope.type === "chat_member") {
      throw bad("can't use specified scope in private chats");
    }
  }
  const lang = args.language_code ?? "";
  if (lang !== "" && !/^[a-z]{2}$/.test(lang)) throw bad("Invalid language code specified");
  const chat = scope.chat_id !== undefined ? state.resolveChat(scope.chat_id).user.id : "";
  return `${scope.type}|${chat}|${scope.user_id ?? ""}|${lang}`;
}

export function setMyCommands(state: TelegramState, args: Record<string, string>) {
  let list: unknown[] = [];
  if (args.commands) {
    const value = parseJsonArg(args.commands, "Can't parse commands JSON object");
    if (!Array.isArray(value)) throw bad("Expected an Array of BotCommand");
    list = value;
  }
  const parsed: BotCommand[] = [];
  for (const item of list) {
    try {
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new FieldError("expected an Object");
      }
      parsed.push(tdParse(z.object({ command: tdString, description: tdString }), item));
    } catch (e) {
      if (e instanceof FieldError) throw bad(`Can't parse BotCommand: ${e.message}`);
      throw e;
    }
  }
  const key = scopeKey(state, args);
  const commands: BotCommand[] = [];
  for (const c of parsed) {
    let command = c.command.trim();
    if (command.startsWith("/")) command = command.slice(1);
    if (command === "") throw bad("Command must be non-empty");
    if ([...command].length > 32) throw bad("Command length must not exceed 32");
    const description = c.description.trim();
    if (description === "") throw bad("Command description must be non-empty");
    if ([...description].length > 256) {
      throw bad("Command description length must not exceed 256");
    }
    commands.push({ command, description });
  }
  if (commands.length > 100) throw bad("BOT_COMMANDS_TOO_MUCH");
  if (commands.some((c) => !/^[a-z0-9_]+$/.test(c.command))) throw bad("BOT_COMMAND_INVALID");
  state.commandSets.set(key, commands);
  return true;
}

export function getMyCommands(state: TelegramState, args: Record<string, string>) {
  return state.commandSets.get(scopeKey(state, args)) ?? [];
}

export function deleteMyCommands(state: TelegramState, args: Record<string, string>) {
  state.commandSets.delete(scopeKey(state, args));
  return true;
}
