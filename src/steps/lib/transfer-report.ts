/**
 * The one finished message: the numbers, who stayed by server with a likely
 * reason, stayed.csv, and the wrap-up — from the facts the watch job gathered.
 */
import { type Reply, say } from "../../chat/conversation.js";
import { elide, n, REMOTE_TEXT_MAX, type Text } from "../../chat/text.js";
import { stayedCsv } from "../../formats/report-csv.js";
import { domainOf } from "../../model/handle.js";
import type { JobEvents, StayedReason } from "../../model/jobs.js";
import type { Moving, TransferResult } from "../../model/state.js";
import { oldOrigin } from "./moving.js";

type Finished = Extract<JobEvents["watch"], { event: "finished" }>;

const SERVERS_SHOWN = 8;

function reasonText(reason: StayedReason): string {
  switch (reason.kind) {
    case "old-server":
      return "on your old server, which moves them itself; still in progress";
    case "software":
      return reason.support === "yes"
        ? `${reason.name}: still in progress, or they chose not to follow`
        : `${reason.name}: ${reason.note}`;
    case "not-answering":
      return "server not answering";
    case "unknown":
      return "still in progress, or they chose not to follow";
  }
}

/**
 * The first line of the end: N of M with a percentage only when both are known. A watch that
 * never read a count says so, and an account with no followers had none to move.
 */
export function finishedLine(r: TransferResult): string {
  if (!r.counted) {
    const had = r.initial > 0 ? ` of your ${n(r.initial)} followers` : " of your followers";
    return `Your move is finished as far as I can tell, but your old server never let me count its followers, so I can't say how many${had} moved.`;
  }
  if (r.from === "new") {
    // Counted on the new side only: a gain, against the snapshot's total where one was taken.
    const of = r.initial > 0 ? `; your old account had ${n(r.initial)}` : "";
    return `Your move is finished: counted from your new account, since your old server never let me count there, it gained ${n(r.moved)} followers since the move${of}.`;
  }
  if (r.initial === 0) return "Your move is finished: your old account had no followers to move.";
  const pct = Math.round((r.moved / r.initial) * 100);
  return `Your move is finished: ${n(r.moved)} of ${n(r.initial)} followers moved (${pct}%).`;
}

export function finishedReplies(report: Finished, state: Moving): Reply[] {
  const r = report.result;
  const text: Text[number][] = [finishedLine(r)];
  const files: Reply[] = [];
  const stayed = report.stayed;
  if (r.stayed > 0 && stayed && stayed.length > 0) {
    const servers = report.servers;
    // Only the list's first pages could be read: the servers below count those, and stayed.csv lists them.
    text.push(
      report.partial
        ? `\n${n(r.stayed)} stayed behind. Your old server's list of them is too long to read in full without overloading it, so here are the first ${n(stayed.length)}:`
        : `\n${n(r.stayed)} stayed behind:`,
    );
    for (const s of servers.slice(0, SERVERS_SHOWN)) {
      text.push(
        `\n• ${elide(s.host)}: ${n(s.count)} — ${elide(reasonText(s.reason), REMOTE_TEXT_MAX)}`,
      );
    }
    if (servers.length > SERVERS_SHOWN)
      text.push(`\n• and ${n(servers.length - SERVERS_SHOWN)} more servers (all in stayed.csv)`);
    const reasons = new Map(servers.map((s) => [s.host, s.reason]));
    const rows = stayed.map((acct) => {
      const host = domainOf(acct);
      const reason = reasons.get(host);
      return {
        acct,
        host,
        reason: reason && reason.kind !== "unknown" ? reasonText(reason) : "still in progress",
      };
    });
    files.push({ kind: "file", name: "stayed.csv", bytes: stayedCsv(rows) });
  } else if (r.stayed > 0) {
    text.push(`\n${n(r.stayed)} stayed behind; your old server doesn't show who they are.`);
  }
  if (r.ended === "settled") text.push("\nThe count has stopped changing, so I'm calling it done.");
  if (r.ended === "cap") text.push("\nIt's been two weeks, so I've stopped watching.");
  if (!r.counted) {
    text.push(
      "\nThe followers' own servers move them all the same; the follower count on your new account shows how many arrived.",
    );
  }
  return [
    say(text),
    ...files,
    say(
      [
        `Last things: request your archive at ${oldOrigin(state)}/settings/export (once every 7 days). I can revoke my access now, and I'll forget everything I kept in 30 days.`,
      ],
      {
        choices: [
          { id: "revoke", label: "Revoke my access" },
          { id: "/forget", label: "Forget now" },
          { id: "keep", label: "Keep my data" },
        ],
      },
    ),
  ];
}
