import { describe, expect, it } from "vitest";
import { followingCsv } from "../../src/formats/following-csv.js";
import {
  describeBadRow,
  type FollowsImport,
  LIMITS,
  MAX_COUNTED_ROWS,
  MAX_FILE_BYTES,
  MAX_ROWS,
  parseFollowsFile,
  REASON_EMPTY,
  REASON_TOO_BIG,
} from "../../src/formats/follows-import.js";
import { REASON_BINARY, REASON_UTF16 } from "../../src/formats/text-file.js";
import type { FollowRow } from "../../src/model/state.js";

const utf8 = (s: string) => new TextEncoder().encode(s);
const parse = (s: string, name?: string) => parseFollowsFile(utf8(s), name);

async function ok(pending: Promise<FollowsImport>) {
  const r = await pending;
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r;
}
async function refused(pending: Promise<FollowsImport>): Promise<string> {
  const r = await pending;
  if (r.ok) throw new Error(`expected a refusal, got ${r.rows.length} rows`);
  return r.reason;
}
const follow = (acct: string, over: Partial<FollowRow> = {}): FollowRow => ({
  acct,
  reblogs: true,
  notify: false,
  languages: null,
  ...over,
});

const EXPORT: FollowRow[] = [
  follow("newest@a.example"),
  follow("multi@b.example", { reblogs: false, notify: true, languages: ["en", "de"] }),
  follow("one@c.example", { notify: true, languages: ["fr"] }),
  follow("dotted.name-x@sub.d.example", { reblogs: false }),
];
const HEADER = "Account address,Show boosts,Notify on new posts,Languages";

describe("parseFollowsFile: Mastodon's follows exports", () => {
  it("reads back exactly what followingCsv writes", async () => {
    const r = await ok(parse(followingCsv(EXPORT), "following_accounts.csv"));
    expect(r).toEqual({ ok: true, rows: EXPORT, bad: [], header: "mastodon" });
  });

  it("reads the file saved with a byte-order mark", async () => {
    expect((await ok(parse(`\uFEFF${followingCsv(EXPORT)}`))).rows).toEqual(EXPORT);
  });

  it("reads CRLF and bare CR line ends", async () => {
    const csv = followingCsv(EXPORT);
    expect((await ok(parse(csv.replace(/\n/g, "\r\n")))).rows).toEqual(EXPORT);
    expect((await ok(parse(csv.replace(/\n/g, "\r")))).rows).toEqual(EXPORT);
  });

  it("reads a file without the trailing newline", async () => {
    expect((await ok(parse(followingCsv(EXPORT).trimEnd()))).rows).toEqual(EXPORT);
  });

  it("reads the old one-column export with Mastodon's defaults", async () => {
    const r = await ok(parse("Account address\nalice@a.example\nbob@b.example\n"));
    expect(r.header).toBe("mastodon");
    expect(r.rows).toEqual([follow("alice@a.example"), follow("bob@b.example")]);
  });

  it("reads the two-column export from 2.8–3.x", async () => {
    const r = await ok(
      parse("Account address,Show boosts\nalice@a.example,false\nbob@b.example,true\n"),
    );
    expect(r.rows).toEqual([
      follow("alice@a.example", { reblogs: false }),
      follow("bob@b.example"),
    ]);
  });

  it("finds columns by header name, in any order, ignoring unknown ones", async () => {
    const r = await ok(
      parse(
        'Languages,Notify on new posts,Account address,Note\n"de, en",true,alice@a.example,hi\n,,bob@b.example,\n',
      ),
    );
    expect(r.rows).toEqual([
      follow("alice@a.example", { notify: true, languages: ["de", "en"] }),
      follow("bob@b.example"),
    ]);
  });

  it("takes booleans in any case, and empty ones as Mastodon's defaults", async () => {
    const r = await ok(
      parse(
        `${HEADER}\na@x.example,TRUE,False,\nb@x.example,fAlSe,tRuE,\nc@x.example,,,\nd@x.example, true ,,\n`,
      ),
    );
    expect(r.rows.map((x) => [x.reblogs, x.notify])).toEqual([
      [true, false],
      [false, true],
      [true, false],
      [true, false],
    ]);
  });

  it("accepts just the header as following nobody (0 rows, not an error)", async () => {
    expect(await parse(`${HEADER}\n`)).toEqual({ ok: true, rows: [], bad: [], header: "mastodon" });
  });
});

describe("parseFollowsFile: a bare list of handles", () => {
  it("strips spaces and a leading @, and skips blank lines", async () => {
    const r = await ok(parse("@alice@a.example\n\n   bob@b.example  \n\n\n@carol@C.Example\n\n"));
    expect(r).toEqual({
      ok: true,
      rows: [follow("alice@a.example"), follow("bob@b.example"), follow("carol@c.example")],
      bad: [],
      header: "none",
    });
  });

  it("ignores extra columns, as Mastodon does without a header", async () => {
    expect((await ok(parse("alice@a.example,false,true\n"))).rows).toEqual([
      follow("alice@a.example"),
    ]);
  });

  it("turns profile links into handles", async () => {
    const r = await ok(
      parse(
        "https://mastodon.social/@Gargron\nhttps://a.example/@bob@b.example/\nhttp://c.example/@carol\n",
      ),
    );
    expect(r.rows.map((x) => x.acct)).toEqual([
      "Gargron@mastodon.social",
      "bob@b.example",
      "carol@c.example",
    ]);
  });
});

describe("parseFollowsFile: bad rows", () => {
  it("reports each by its line in the file while the good rows go on", async () => {
    const text = [
      HEADER, // 1
      'alice@a.example,true,false,"en,', // 2: a quoted cell over two lines
      'de"', // 3
      "bob,true,false,", // 4
      "", // 5
      "carol@c.example,yes,false,", // 6
      "dave@d.example,false,true,fr", // 7
      "@Alice@A.example,true,false,", // 8
      "example.social,,,", // 9
      "erin@e.example:8443,,,", // 10
      "https://f.example/users/frank,,,", // 11
      "gina@g.example,maybe,1,English", // 12
      "", // trailing newline
    ].join("\n");
    const r = await ok(parse(text));
    expect(r.rows).toEqual([
      follow("alice@a.example", { languages: ["en", "de"] }),
      follow("dave@d.example", { reblogs: false, notify: true, languages: ["fr"] }),
    ]);
    expect(r.bad.map(describeBadRow)).toEqual([
      'line 4: "bob" has no server — write it as bob@example.social',
      'line 6: Show boosts must be true or false, not "yes"',
      "line 8: Alice@a.example is already listed on line 2",
      'line 9: "example.social" is a server, not an account — write it as name@example.social',
      'line 10: "erin@e.example:8443" has a port number, which handles never have — write it as erin@e.example',
      'line 11: "https://f.example/users/frank" isn\'t a profile link like https://example.social/@bob',
      'line 12: Show boosts must be true or false, not "maybe"; Notify on new posts must be true or false, not "1"; Languages must be language codes like "en, de", not "English"',
    ]);
  });

  it("counts lines the same with CRLF and CR line ends", async () => {
    const text = `${HEADER}\n"x@a.example",true,false,"en,\nde"\n\nnope\n`;
    for (const eol of ["\r\n", "\r"]) {
      const r = await ok(parse(text.replace(/\n/g, eol)));
      expect(r.bad).toEqual([{ line: 5, reason: expect.stringContaining('"nope" has no server') }]);
    }
  });

  it("reports a header-less bad line by its own number", async () => {
    const r = await ok(parse("alice@a.example\n\nnot a handle\n"));
    expect(r.bad).toEqual([
      { line: 3, reason: '"not a handle" isn\'t a handle like bob@example.social' },
    ]);
    expect(r.rows).toEqual([follow("alice@a.example")]);
  });
});

describe("parseFollowsFile: whole-file refusals", () => {
  it("refuses an empty file", async () => {
    for (const s of ["", "\uFEFF", "\n\n  \r\n"])
      expect(await refused(parse(s))).toBe(REASON_EMPTY);
  });

  it("refuses 20 MB + 1 byte before looking inside, and takes exactly 20 MB", async () => {
    expect(MAX_FILE_BYTES).toBe(20 * 1024 * 1024);
    expect(await refused(parseFollowsFile(new Uint8Array(MAX_FILE_BYTES + 1)))).toBe(
      REASON_TOO_BIG,
    );
    const head = `${HEADER}\nalice@a.example,true,false,\n`;
    // Filled with what every other limit lets through: lines of spaces, none too long.
    const line = `${" ".repeat(LIMITS.maxRowChars - 1)}\n`;
    const lines = line.repeat(Math.floor((MAX_FILE_BYTES - head.length) / line.length));
    const exact = `${head}${lines}${" ".repeat(MAX_FILE_BYTES - head.length - lines.length - 1)}\n`;
    expect(utf8(exact).length).toBe(MAX_FILE_BYTES);
    expect((await ok(parse(exact))).rows).toEqual([follow("alice@a.example")]);
  });

  it("takes 20,000 accounts and refuses 20,001, saying how many", async () => {
    const handles = (n: number) =>
      Array.from({ length: n }, (_, i) => `user${i}@s${i % 97}.example`).join("\n");
    const r = await ok(parse(`${HEADER}\n${handles(20_000)}\n`));
    expect(r.rows).toHaveLength(20_000);
    expect(r.bad).toEqual([]);
    expect(await refused(parse(`${HEADER}\n${handles(20_001)}\n`))).toBe(
      "This file has 20,001 accounts; Mastodon and I take at most 20,000 per file. Split it and send the parts.",
    );
    expect(await refused(parse(handles(25_000)))).toContain("has 25,000 accounts");
  });

  it("refuses binary files: a PNG, NUL bytes, invalid UTF-8", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    expect(await refused(parseFollowsFile(png, "following_accounts.csv"))).toBe(REASON_BINARY);
    expect(await refused(parseFollowsFile(utf8("alice@a.example\n\0bob@b.example\n")))).toBe(
      REASON_BINARY,
    );
    expect(await refused(parseFollowsFile(new Uint8Array([0x61, 0x40, 0xc3, 0x28])))).toBe(
      REASON_BINARY,
    );
  });

  it("names UTF-16, which Excel writes as “Unicode text”", async () => {
    const le = new Uint8Array([0xff, 0xfe, 0x61, 0, 0x40, 0, 0x62, 0]);
    expect(await refused(parseFollowsFile(le))).toBe(REASON_UTF16);
  });

  it("refuses a file whose quotes never close, naming the line", async () => {
    expect(
      await refused(parse(`${HEADER}\nalice@a.example,true,false,\n"bob@b.example,true\n`)),
    ).toBe("This file isn't valid CSV: on line 3 a quoted field never ends.");
  });

  it("refuses a header without an Account address column", async () => {
    expect(await refused(parse("Show boosts,Languages\ntrue,en\n"))).toContain(
      "without an “Account address” column",
    );
  });
});

describe("parseFollowsFile: files that would take long to read", () => {
  const handles = (n: number) =>
    Array.from({ length: n }, (_, i) => `user${i}@s${i % 97}.example`).join("\n");

  it("refuses 20 MB of blank lines after an account, saying why", async () => {
    const head = "alice@a.example\n";
    expect(await refused(parse(`${head}${"\n".repeat(MAX_FILE_BYTES - head.length)}`))).toBe(
      "This file has more than 20,000 blank lines; I take at most 20,000 per file. Delete them and send it again.",
    );
    expect(await refused(parse(`${head}${"\r\n".repeat(MAX_ROWS + 1)}`))).toContain(
      "more than 20,000 blank lines",
    );
  });

  it("reads a list with a blank line after every account, up to the limit", async () => {
    expect(LIMITS.maxBlankRows).toBe(MAX_ROWS);
    const r = await ok(parse(`${handles(MAX_ROWS).replace(/\n/g, "\n\n")}\n\n`));
    expect(r.rows).toHaveLength(MAX_ROWS);
    expect(r.bad).toEqual([]);
  });

  it("refuses 20 MB in one cell, or one line of spaces, naming the line", async () => {
    const head = "alice@a.example\n";
    expect(await refused(parse(`${head}${"x".repeat(MAX_FILE_BYTES - head.length)}`))).toBe(
      "This file has a line over 10,000 characters long (line 2); a follows file has one account a line. Check it's the right file and send it again.",
    );
    expect(await refused(parse(`${HEADER}\n\n${" ".repeat(LIMITS.maxRowChars + 1)}\n`))).toContain(
      "(line 3)",
    );
  });

  it("refuses a quote that runs on over many lines before reading them all", async () => {
    const text = `${HEADER}\n"alice@a.example,true\n${"bob@b.example\n".repeat(1_000_000)}`;
    expect(await refused(parse(text))).toBe(
      "This file isn't valid CSV: on line 2 a quoted field runs on for more than 10,000 characters.",
    );
  });

  it("counts accounts past 20,000 up to 100,000, to say how many parts to make", async () => {
    expect(MAX_COUNTED_ROWS).toBe(100_000);
    expect(await refused(parse(`${HEADER}\n${handles(100_000)}\n`))).toContain(
      "This file has 100,000 accounts;",
    );
    expect(await refused(parse(handles(100_001)))).toBe(
      "This file has more than 100,000 accounts; Mastodon and I take at most 20,000 per file. Split it and send the parts.",
    );
  });
});

describe("parseFollowsFile: another export sent by mistake", () => {
  const looksLike = (what: string) =>
    expect.stringMatching(new RegExp(`^This looks like ${what},`));

  it("refuses blocked domains, by content, by name and by header", async () => {
    const domains = "spam.example\nbad.example\n";
    const what = looksLike("a list of blocked domains \\(blocked_domains\\.csv\\)");
    expect(await refused(parse(domains))).toEqual(what);
    expect(await refused(parse("alice@a.example\n", "blocked_domains.csv"))).toEqual(what);
    expect(await refused(parse("#domain\nspam.example\n"))).toEqual(what);
  });

  it("refuses muted accounts, whose header Mastodon would read as follows", async () => {
    const r = await refused(parse("Account address,Hide notifications\nalice@a.example,true\n"));
    expect(r).toEqual(looksLike("your muted accounts \\(muted_accounts\\.csv\\)"));
    expect(r).toContain("Send following_accounts.csv instead");
  });

  it("refuses blocked accounts by name, though their rows look like follows", async () => {
    expect(await refused(parse("alice@a.example\n", "blocked_accounts.csv"))).toEqual(
      looksLike("your blocked accounts \\(blocked_accounts\\.csv\\)"),
    );
  });

  it("refuses bookmarks and lists by content", async () => {
    expect(
      await refused(parse("https://a.example/users/bob/statuses/1\nhttps://b.example/notes/9x\n")),
    ).toEqual(looksLike("your bookmarks \\(bookmarks\\.csv\\)"));
    expect(await refused(parse('Friends,alice@a.example\n"Work, mostly",bob@b.example\n'))).toEqual(
      looksLike("your lists \\(lists\\.csv\\)"),
    );
  });

  it("trusts the follows header over a misleading name", async () => {
    expect((await ok(parse(followingCsv(EXPORT), "blocked_accounts (2).csv"))).rows).toEqual(
      EXPORT,
    );
  });

  it("treats one stray domain in a list of handles as a bad row, not a different export", async () => {
    const r = await ok(parse("alice@a.example\nspam.example\n"));
    expect(r.rows).toHaveLength(1);
    expect(r.bad.map((b) => b.line)).toEqual([2]);
  });
});
