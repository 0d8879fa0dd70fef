/**
 * Ada's journey on Telegram as the end-to-end tests walk it against real bot processes:
 * a person who types and presses (each counted), and waits for the bot's first message
 * after their last that matches; the stretches every walk shares, from /start to the
 * sign-in, from signed in to the import's preview, and from the import's report to the Move.
 */
import type { MessageView, TelegramSandbox } from "../../sandbox/telegram.js";
import type { MoveWorld } from "../helpers/worlds.js";
import type { Proc } from "./process.js";

/** The old server's sign-in link, in the bot's message or the terminal's. */
export const AUTHORIZE = /https?:\/\/[^\s"<>]+\/oauth\/authorize[^\s"<>]*/;

export interface Person {
  /** What they sent, in order: what they typed (or how a test shows it) and "[button]" presses. */
  readonly sent: string[];
  /** The bot's first message after the person's last that matches; failing, what the bots logged. */
  says(pattern: RegExp, ms?: number): Promise<MessageView>;
  send(text: string, shown?: string): void;
  press(message: MessageView, label: string): void;
}

export function telegramPerson(
  tg: TelegramSandbox,
  user: number,
  bots: readonly Proc[],
  ms = 30_000,
): Person {
  const sent: string[] = [];
  let seen = 0;
  return {
    sent,
    says: (pattern, wait = ms) =>
      tg
        .waitFor(
          user,
          (m) => m.from === "bot" && m.messageId > seen && pattern.test(m.text ?? ""),
          wait,
        )
        .catch((err: unknown) => {
          const said = bots.map((b, k) => `--- bot ${k} stderr ---\n${b.stderr()}`).join("\n");
          throw new Error(`${err}\n${said}`);
        }),
    send(text, shown = text) {
      sent.push(shown);
      seen = (tg.sendText(user, text) as { message_id: number }).message_id;
    },
    press(message, label) {
      const button = message.replyMarkup?.inline_keyboard.flat().find((b) => b.text === label);
      if (!button?.callback_data) throw new Error(`no button ${label}`);
      sent.push(`[${label}]`);
      seen = Math.max(seen, ...tg.chat(user).bot.map((m) => m.messageId));
      tg.pressButton(user, message.messageId, button.callback_data);
    },
  };
}

/** /start, her old server named: the message asking her to sign in, and its authorize URL. */
export async function toSignIn(
  person: Person,
): Promise<{ signIn: MessageView; url: string | undefined }> {
  person.send("/start");
  await person.says(/Which Mastodon server is your account on\?/);
  person.send("old.example");
  const signIn = await person.says(/^Tap to let me read your account/);
  const url = AUTHORIZE.exec(signIn.html ?? "")?.[0].replaceAll("&amp;", "&");
  return { signIn, url };
}

/** Signed in, to micro.blog with her app token: the preview of the import (20 follows). */
export async function toPreview(person: Person, w: MoveWorld): Promise<MessageView> {
  await person.says(/^Signed in as @ada@old\.example/);
  await person.says(/^Moving to micro\.blog\?/);
  person.send(w.appToken, "<app token>");
  return person.says(/^I'll follow your 20 accounts on @ada@mb\.example\./);
}

/**
 * From the import's report to the Move: both things done on micro.blog, the alias seen, the
 * checks all clear, the warning confirmed, the Move made on old.example's page, "I've moved".
 */
export async function toMove(person: Person, w: MoveWorld): Promise<void> {
  person.press(await person.says(/^Two things on micro\.blog before the move:/), "Both done");
  await person.says(/^✅ @ada@mb\.example lists @ada@old\.example as an alias/);
  await person.says(/^Before the move — all clear:/);
  person.press(await person.says(/^This can't be undone/), "I understand — move");
  const page = await person.says(/^Now open old\.example's move page/);
  await w.old.performMove("ada", "ada@mb.example");
  person.press(page, "I've moved");
}
