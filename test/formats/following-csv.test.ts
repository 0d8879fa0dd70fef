import { describe, expect, it } from "vitest";
import { followingCsv } from "../../src/formats/following-csv.js";

describe("following_accounts.csv", () => {
  it("is written exactly as Mastodon's export writes it", () => {
    const csv = followingCsv([
      { acct: "newest@a.example", reblogs: true, notify: false, languages: null },
      { acct: "multi@b.example", reblogs: false, notify: true, languages: ["en", "de"] },
      { acct: "one@c.example", reblogs: true, notify: true, languages: ["fr"] },
    ]);
    expect(csv).toBe(
      "Account address,Show boosts,Notify on new posts,Languages\n" +
        "newest@a.example,true,false,\n" +
        'multi@b.example,false,true,"en, de"\n' +
        "one@c.example,true,true,fr\n",
    );
  });

  it("is just the header for nobody", () => {
    expect(followingCsv([])).toBe("Account address,Show boosts,Notify on new posts,Languages\n");
  });
});
