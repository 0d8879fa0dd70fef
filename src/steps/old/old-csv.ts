/**
 * Without signing in: the user uploads following_accounts.csv (or any
 * Mastodon follows export, or a list of handles). Good rows go on; bad rows are
 * listed with their line numbers; a file that can't be read changes nothing.
 */
import { say } from "../../chat/conversation.js";
import { b, count, n } from "../../chat/text.js";
import {
  describeBadRow,
  MAX_FILE_BYTES,
  parseFollowsFile,
  REASON_TOO_BIG,
} from "../../formats/follows-import.js";
import { log } from "../../log.js";
import { emptySnapshot } from "../../model/snapshot.js";
import type { StateOf } from "../../model/state.js";
import { toNewAccount } from "../lib/new-account.js";
import { type Step, type StepContext, stay } from "../step.js";

const SHOW_BAD_ROWS = 10;

export const COULD_NOT_FETCH =
  "I couldn't fetch that file from the chat (a file over 20 MB can't come this way). Nothing changed; send it again, or paste the handles here, one per line.";

function ask(state: StateOf<"old-csv">) {
  return say(
    [
      "Send me your follows as a file: on ",
      state.instance.host,
      " it's under Preferences → Import and export → ",
      b("Data export"),
      " → Follows (CSV). A plain list of handles, one per line, works too — as a file, or pasted here.",
    ],
    {
      links: [
        {
          label: `Open ${state.instance.host}'s exports`,
          url: `${state.instance.origin}/settings/export`,
        },
      ],
    },
  );
}

/** Where the chat can't carry a file: the bot's one-time upload page, or the handles pasted as text. */
async function askHere(state: StateOf<"old-csv">, ctx: StepContext) {
  if (ctx.channel.files === "attach") return ask(state);
  const upload = await ctx.channel.uploadForm?.();
  return say(
    [
      "This chat can't carry a file. Download your follows from ",
      state.instance.host,
      " (Preferences → Import and export → ",
      b("Data export"),
      " → Follows), then ",
      upload
        ? "upload it on this page — it works once, for 15 minutes. Or paste the handles here, one per line."
        : "paste the handles here, one per line.",
    ],
    {
      links: [
        {
          label: `${state.instance.host}'s exports`,
          url: `${state.instance.origin}/settings/export`,
        },
        ...(upload ? [{ label: "Upload your follows file", url: upload.url }] : []),
      ],
    },
  );
}

export const oldCsv: Step<"old-csv"> = {
  name: "old-csv",
  enter: async (state, ctx) => [await askHere(state, ctx)],
  async handle(state, input, ctx) {
    let bytes: Uint8Array;
    let name: string;
    if (input.kind === "file") {
      if (input.size > MAX_FILE_BYTES) return stay(state, say([REASON_TOO_BIG]));
      try {
        bytes = await input.read();
      } catch (err) {
        // The chat didn't hand the file over (Telegram refuses files over 20 MB, a download
        // times out): nothing was read, so nothing changes, and sending it again may work.
        log.warn("old-csv: the file could not be fetched", { err });
        return stay(state, say([COULD_NOT_FETCH]));
      }
      name = input.name;
    } else if (input.kind === "text" && input.text.includes("@")) {
      bytes = new TextEncoder().encode(input.text);
      name = "pasted handles";
    } else {
      return stay(state, await askHere(state, ctx));
    }
    const parsed = await parseFollowsFile(bytes, input.kind === "file" ? input.name : undefined);
    if (!parsed.ok)
      return stay(state, say([parsed.reason, " Nothing changed; send another file when ready."]));
    if (parsed.rows.length === 0) {
      return stay(
        state,
        say([
          `${name} has no accounts I can follow.`,
          parsed.bad.length ? ` ${describeBadRow(parsed.bad[0]!)}` : "",
        ]),
      );
    }
    const takenAt = ctx.now();
    await ctx.snapshots.set(ctx.user, { ...emptySnapshot(takenAt), follows: parsed.rows });
    const lines = [`Read ${count(parsed.rows.length, "account")} from ${name}.`];
    if (parsed.bad.length > 0) {
      lines.push(
        `\n${n(parsed.bad.length)} line${parsed.bad.length === 1 ? "" : "s"} I couldn't use:`,
      );
      for (const bad of parsed.bad.slice(0, SHOW_BAD_ROWS))
        lines.push(`\n• ${describeBadRow(bad)}`);
      if (parsed.bad.length > SHOW_BAD_ROWS)
        lines.push(`\n…and ${n(parsed.bad.length - SHOW_BAD_ROWS)} more.`);
    }
    return {
      state: toNewAccount(
        {
          source: { kind: "file", instance: state.instance, name },
          follows: parsed.rows.length,
          snapshotAt: takenAt,
        },
        ctx,
      ),
      replies: [say(lines)],
    };
  },
};
