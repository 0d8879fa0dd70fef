/**
 * One CSV field and one row as Ruby's CSV writes them with its defaults
 * (ruby/csv lib/csv/writer.rb), which is what every Mastodon export uses. Kept
 * in one place so every file we hand back byte-matches what the user's own
 * server would have given them, and imports that diff against it see no noise.
 */

/**
 * Ruby quotes a field only when it holds the separator, a quote or a line break,
 * and doubles quotes inside. `nil` is written bare, but an empty *string* is
 * written as `""` (quote_empty defaults to true): callers pass `null` for
 * "nothing here", as Mastodon does with a `nil` value.
 */
export function rubyCsvField(value: string | null): string {
  if (value === null) return "";
  if (value === "" || /[",\r\n]/.test(value)) return `"${value.replace(/"/g, '""')}"`;
  return value;
}

/** A row: fields joined with "," and ended with "\n" ($INPUT_RECORD_SEPARATOR). */
export function rubyCsvRow(fields: readonly (string | null)[]): string {
  return `${fields.map(rubyCsvField).join(",")}\n`;
}
