/**
 * The CSV files the bot sends with its reports, in the same dialect as
 * Mastodon's own exports (ruby-csv.ts), so they open anywhere the exports do.
 */
import type { ImportFailure } from "../model/jobs.js";
import { rubyCsvRow } from "./ruby-csv.js";

const csv = (header: string, rows: readonly (readonly string[])[]): Uint8Array =>
  new TextEncoder().encode(
    `${[header, ...rows.map((r) => rubyCsvRow([...r]).trimEnd())].join("\n")}\n`,
  );

/** not-followed.csv: every account the import could not follow, and why. */
export const notFollowedCsv = (failures: readonly ImportFailure[]): Uint8Array =>
  csv(
    "Account address,Result,Reason",
    failures.map((f) => [f.acct, f.result, f.reason]),
  );

/** stayed.csv: every follower still on the old account, their server, and the likely reason. */
export const stayedCsv = (rows: readonly { acct: string; host: string; reason: string }[]) =>
  csv(
    "Account address,Server,Likely reason",
    rows.map((r) => [r.acct, r.host, r.reason]),
  );
