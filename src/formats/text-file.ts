/**
 * Turns an uploaded file's bytes into text we can parse, or one reason why not.
 * People send whatever their phone offers — a screenshot, a spreadsheet, a file
 * saved by Excel as "Unicode text" — so this catches those before the CSV
 * reader turns them into thousands of confusing "bad rows".
 */

export type TextFile = { ok: true; text: string } | { ok: false; reason: string };

export const REASON_BINARY = "This doesn't look like a CSV file — it has binary data.";
export const REASON_UTF16 =
  "This file is saved as UTF-16 text. Save it as “CSV UTF-8” (or plain UTF-8 text) and send it again.";

/**
 * Strict UTF-8, one byte-order mark dropped (Excel's "CSV UTF-8" writes one;
 * Mastodon's own reader would keep it and miss the header), and every line end
 * made "\n" so that counting "\n" counts the lines the user sees in an editor.
 */
export function decodeTextFile(bytes: Uint8Array): TextFile {
  // UTF-16 is full of NULs too; naming it tells the user exactly what to change.
  if (bytes.length >= 2 && isUtf16Bom(bytes[0]!, bytes[1]!)) {
    return { ok: false, reason: REASON_UTF16 };
  }
  if (bytes.includes(0)) return { ok: false, reason: REASON_BINARY };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { ok: false, reason: REASON_BINARY };
  }
  return { ok: true, text: text.replace(/\r\n?/g, "\n") };
}

function isUtf16Bom(a: number, b: number): boolean {
  return (a === 0xff && b === 0xfe) || (a === 0xfe && b === 0xff);
}
