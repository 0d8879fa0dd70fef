/**
 * Turns an uploaded file's bytes into text we can parse, or one reason why not.
 * People send whatever their phone offers — a screenshot, a spreadsheet, a file
 * saved by Excel as "Unicode text" — so this catches those before the CSV
 * reader turns them into thousands of confusing "bad rows".
 *
 * The text comes a piece at a time (PIECE_BYTES of the file each), so that the
 * reader can stop as soon as it has seen enough and nothing ever works through
 * 20 MB in one go (making 10 million CRLF line ends "\n" in one call takes 2 s).
 * A problem is reported when the piece that holds it is reached.
 */

export type TextPiece = { ok: true; text: string } | { ok: false; reason: string };

export const REASON_BINARY = "This doesn't look like a CSV file — it has binary data.";
export const REASON_UTF16 =
  "This file is saved as UTF-16 text. Save it as “CSV UTF-8” (or plain UTF-8 text) and send it again.";

/**
 * 4 KiB: about a millisecond's work for the CSV reader even if it is 4,096 blank lines
 * (a few times that while the code is still cold); several pieces go in one time slice.
 */
export const PIECE_BYTES = 4 * 1024;

/**
 * Strict UTF-8, one byte-order mark dropped (Excel's "CSV UTF-8" writes one;
 * Mastodon's own reader would keep it and miss the header), and every line end
 * made "\n" so that counting "\n" counts the lines the user sees in an editor.
 * After a failure, nothing more.
 */
export function* textPieces(
  bytes: Uint8Array,
  pieceBytes: number = PIECE_BYTES,
): Generator<TextPiece, void, undefined> {
  // UTF-16 is full of NULs too; naming it tells the user exactly what to change.
  if (bytes.length >= 2 && isUtf16Bom(bytes[0]!, bytes[1]!)) {
    yield { ok: false, reason: REASON_UTF16 };
    return;
  }
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  // A "\r" that ends a piece may be the first half of "\r\n": it waits for the next.
  let carriedCr = false;
  for (let at = 0; at < bytes.length; at += pieceBytes) {
    const slice = bytes.subarray(at, at + pieceBytes);
    if (slice.includes(0)) {
      yield { ok: false, reason: REASON_BINARY };
      return;
    }
    const last = at + pieceBytes >= bytes.length;
    let text: string;
    try {
      // `stream` keeps a character cut in two by the piece's end for the next piece.
      text = decoder.decode(slice, { stream: !last });
    } catch {
      yield { ok: false, reason: REASON_BINARY };
      return;
    }
    if (carriedCr) text = `\r${text}`;
    carriedCr = !last && text.endsWith("\r");
    if (carriedCr) text = text.slice(0, -1);
    yield { ok: true, text: text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text };
  }
}

function isUtf16Bom(a: number, b: number): boolean {
  return (a === 0xff && b === 0xfe) || (a === 0xfe && b === 0xff);
}
