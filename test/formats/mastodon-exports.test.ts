import { describe, expect, it } from "vitest";
import { followingCsv } from "../../src/formats/following-csv.js";
import {
  blockedAccountsCsv,
  blockedDomainsCsv,
  bookmarksCsv,
  listsCsv,
  mutedAccountsCsv,
} from "../../src/formats/mastodon-exports.js";
import { rubyCsvField, rubyCsvRow } from "../../src/formats/ruby-csv.js";

describe("Ruby CSV quoting", () => {
  it("quotes only a comma, a quote or a line break, and doubles quotes", () => {
    expect(rubyCsvField("plain text")).toBe("plain text");
    expect(rubyCsvField(" spaced ")).toBe(" spaced ");
    expect(rubyCsvField("a,b")).toBe('"a,b"');
    expect(rubyCsvField('say "hi"')).toBe('"say ""hi"""');
    expect(rubyCsvField("two\nlines")).toBe('"two\nlines"');
    expect(rubyCsvField("cr\rhere")).toBe('"cr\rhere"');
  });

  it('writes nil bare but an empty string as ""', () => {
    expect(rubyCsvRow(["a", null, "", "b"])).toBe('a,,"",b\n');
  });

  it("leaves following_accounts.csv as it was: no languages is a bare empty cell", () => {
    expect(
      followingCsv([
        { acct: "a@x.example", reblogs: true, notify: false, languages: [] },
        { acct: "b@x.example", reblogs: true, notify: false, languages: null },
      ]),
    ).toBe(
      "Account address,Show boosts,Notify on new posts,Languages\n" +
        "a@x.example,true,false,\n" +
        "b@x.example,true,false,\n",
    );
  });
});

describe("Mastodon's other exports", () => {
  it("muted_accounts.csv has a header and true/false", () => {
    expect(
      mutedAccountsCsv([
        { acct: "loud@a.example", hideNotifications: true },
        { acct: "quiet@b.example", hideNotifications: false },
      ]),
    ).toBe("Account address,Hide notifications\nloud@a.example,true\nquiet@b.example,false\n");
    expect(mutedAccountsCsv([])).toBe("Account address,Hide notifications\n");
  });

  it("blocked_accounts.csv is one acct a line, no header", () => {
    expect(blockedAccountsCsv(["troll@a.example", "spam@b.example"])).toBe(
      "troll@a.example\nspam@b.example\n",
    );
    expect(blockedAccountsCsv([])).toBe("");
  });

  it("lists.csv is title,acct with titles quoted only when they must be", () => {
    expect(
      listsCsv([
        { title: "Friends", acct: "alice@a.example" },
        { title: "Work, mostly", acct: "bob@b.example" },
        { title: 'The "best" people', acct: "carol@c.example" },
        { title: 'Art, "real" art', acct: "dave@d.example" },
        { title: "Über 🎨", acct: "erin@e.example" },
      ]),
    ).toBe(
      "Friends,alice@a.example\n" +
        '"Work, mostly",bob@b.example\n' +
        '"The ""best"" people",carol@c.example\n' +
        '"Art, ""real"" art",dave@d.example\n' +
        "Über 🎨,erin@e.example\n",
    );
    expect(listsCsv([])).toBe("");
  });

  it("blocked_domains.csv is one domain a line, no header", () => {
    expect(blockedDomainsCsv(["spam.example", "bad.example"])).toBe("spam.example\nbad.example\n");
  });

  it("bookmarks.csv is one status URI a line, no header", () => {
    expect(
      bookmarksCsv([
        "https://a.example/users/bob/statuses/110000000000000001",
        "https://b.example/notes/9abc",
      ]),
    ).toBe(
      "https://a.example/users/bob/statuses/110000000000000001\nhttps://b.example/notes/9abc\n",
    );
  });
});
