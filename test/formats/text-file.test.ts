/**
 * An upload's bytes become text a piece at a time: whatever the piece size, the
 * pieces join into the same text, with the byte-order mark dropped and every line
 * end "\n", and a file that isn't UTF-8 text is refused when its piece is reached.
 */
import { describe, expect, it } from "vitest";
import {
  REASON_BINARY,
  REASON_UTF16,
  type TextPiece,
  textPieces,
} from "../../src/formats/text-file.js";

const utf8 = (s: string) => new TextEncoder().encode(s);
const SIZES = [1, 2, 3, 5, 7, 4096];

function joined(pieces: Iterable<TextPiece>): string {
  let text = "";
  for (const p of pieces) {
    if (!p.ok) throw new Error(p.reason);
    text += p.text;
  }
  return text;
}

describe("textPieces", () => {
  it("joins into the same text at any piece size: BOM dropped, CRLF and CR made LF, characters whole", () => {
    const bytes = utf8('\uFEFFa@b.example\r\nçé@ü.example\r\r\n😀,"x\r\ny"\rlast\r');
    for (const size of SIZES) {
      expect(joined(textPieces(bytes, size)), `pieces of ${size}`).toBe(
        'a@b.example\nçé@ü.example\n\n😀,"x\ny"\nlast\n',
      );
    }
  });

  it("gives nothing for an empty file", () => {
    expect([...textPieces(new Uint8Array(0))]).toEqual([]);
  });

  it("refuses NUL bytes when their piece comes, and gives nothing after", () => {
    const bytes = utf8("alice@a.example\nbob@b.example\n\0carol@c.example\n");
    // Pieces of 16 bytes: the first line, then the piece with the NUL.
    const pieces = [...textPieces(bytes, 16)];
    expect(pieces).toEqual([
      { ok: true, text: "alice@a.example\n" },
      { ok: false, reason: REASON_BINARY },
    ]);
  });

  it("refuses invalid UTF-8, and a character cut off by the file's end", () => {
    for (const size of SIZES) {
      expect([...textPieces(new Uint8Array([0x61, 0x40, 0xc3, 0x28]), size)].at(-1)).toEqual({
        ok: false,
        reason: REASON_BINARY,
      });
      expect([...textPieces(utf8("a@b.example\n").subarray(0, 12), size)].at(-1)).toMatchObject({
        ok: true,
      });
      expect([...textPieces(new Uint8Array([0x61, 0xe2, 0x82]), size)].at(-1)).toEqual({
        ok: false,
        reason: REASON_BINARY,
      });
    }
  });

  it("names UTF-16 before anything else", () => {
    expect([...textPieces(new Uint8Array([0xff, 0xfe, 0x61, 0, 0x40, 0]))]).toEqual([
      { ok: false, reason: REASON_UTF16 },
    ]);
  });
});
