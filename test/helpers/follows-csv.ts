/** Mastodon's following_accounts.csv for these accounts, as a file the person sends the bot. */
import type { Input } from "../../src/chat/conversation.js";
import { OLD } from "./worlds.js";

const HEADER = "Account address,Show boosts,Notify on new posts,Languages";

export function followsCsv(accts: string[]): Input {
  const bytes = new TextEncoder().encode(
    `${HEADER}\n${accts.map((a) => `${a},true,false,`).join("\n")}\n`,
  );
  return {
    kind: "file",
    name: "following_accounts.csv",
    size: bytes.length,
    read: async () => bytes,
  };
}

/**
 * From the welcome to micro.blog's app token by the file path: the old server must answer like
 * Mastodon, and nothing more is read from it after that.
 */
export async function uploadFollows(
  chat: { send(input: Input | string): Promise<unknown>; press(label: string): Promise<unknown> },
  accts: string[],
): Promise<void> {
  await chat.send("/start");
  await chat.send(OLD);
  await chat.press("Upload a file instead");
  await chat.send(followsCsv(accts));
}
