/**
 * The CSV path, as a user sees it: upload a file instead of signing in, and get
 * either the count and a line-numbered list of what couldn't be used, or one
 * clear reason why the file can't be read — and nothing changed.
 */
import { describe, expect, it } from "vitest";
import type { Input } from "../../src/chat/conversation.js";
import type { MastodonAccountClient } from "../../src/clients/mastodon.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";

const world = fakeWorld({ mastodon: () => ({}) as MastodonAccountClient });

const file = (name: string, content: string | Uint8Array): Input => {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  return { kind: "file", name, size: bytes.length, read: async () => bytes };
};

async function atUpload() {
  const chat = await makeChat(world);
  await chat.send("/start");
  await chat.send("old.example");
  const ask = await chat.press("Upload a file instead");
  expect(ask.text).toMatch(
    /^Send me your follows as a file: on old\.example it's under Preferences → Import and export → Data export/,
  );
  return chat;
}

const HEADER = "Account address,Show boosts,Notify on new posts,Languages";

/** A file of exactly 20 MB: `head`, then the byte `fill` to the end. */
function padded(head: string, fill: number): Uint8Array {
  const bytes = new Uint8Array(20 * 1024 * 1024).fill(fill);
  bytes.set(new TextEncoder().encode(head));
  return bytes;
}

describe("uploading following_accounts.csv instead of signing in", () => {
  it("a file sent at the sign-in, without pressing the button, is read as the follows file; one that isn't changes nothing", async () => {
    const chat = await makeChat(world);
    await chat.send("/start");
    await chat.send("old.example");
    const before = await chat.state();
    const junk = await chat.send(
      file("cat.png", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2])),
    );
    expect(junk.lines.length).toBeGreaterThan(0);
    expect(await chat.state()).toEqual(before);
    const r = await chat.send(
      file("following_accounts.csv", `${HEADER}\na@one.example,true,false,\n`),
    );
    expect(r.lines[0]).toBe("Read 1 account from following_accounts.csv.");
    expect((await chat.state())?.step).not.toBe("old-sign-in");
  });

  it("a file the chat can't hand over (Telegram's download failed) gets a reply and changes nothing", async () => {
    const unfetchable: Input = {
      kind: "file",
      name: "following_accounts.csv",
      // Telegram may not say the size; the download is what fails.
      size: 0,
      read: () => Promise.reject(new Error("Telegram named no file to download")),
    };
    const said = [
      "I couldn't fetch that file from the chat (a file over 20 MB can't come this way). Nothing changed; send it again, or paste the handles here, one per line.",
    ];
    const signIn = await makeChat(world);
    await signIn.send("/start");
    await signIn.send("old.example");
    const atSignIn = await signIn.state();
    expect((await signIn.send(unfetchable)).lines).toEqual(said);
    expect(await signIn.state()).toEqual(atSignIn);

    const chat = await atUpload();
    const before = await chat.state();
    expect((await chat.send(unfetchable)).lines).toEqual(said);
    expect(await chat.state()).toEqual(before);
  });

  it("reads Mastodon's export with a BOM and CRLF line ends", async () => {
    const chat = await atUpload();
    const r = await chat.send(
      file(
        "following_accounts.csv",
        `\uFEFF${HEADER}\r\na@one.example,true,false,\r\nb@two.example,false,true,"en, de"\r\n`,
      ),
    );
    expect(r.lines[0]).toBe("Read 2 accounts from following_accounts.csv.");
    expect(await chat.state()).toMatchObject({
      step: "new-choose",
      follows: 2,
      source: { kind: "file" },
    });
    const snapshot = await chat.store.namespace("snapshots").get(chat.user);
    expect(snapshot).toMatchObject({
      follows: [
        { acct: "a@one.example", reblogs: true, notify: false, languages: null },
        { acct: "b@two.example", reblogs: false, notify: true, languages: ["en", "de"] },
      ],
    });
  });

  it("takes good rows and lists bad ones by line", async () => {
    const chat = await atUpload();
    const r = await chat.send(
      file(
        "follows.csv",
        `${HEADER}\na@one.example,true,false,\nbob,true,false,\nc@three.example,yes,false,\nd@four.example,true,false,\n`,
      ),
    );
    expect(r.lines[0]).toBe(
      [
        "Read 2 accounts from follows.csv.",
        "2 lines I couldn't use:",
        '• line 3: "bob" has no server — write it as bob@example.social',
        '• line 4: Show boosts must be true or false, not "yes"',
      ].join("\n"),
    );
  });

  it("reads a file with an unknown header as Mastodon does: the header is line 1's bad row", async () => {
    const chat = await atUpload();
    const r = await chat.send(file("x.csv", "Username,Followed\nbob@a.example,yes\n"));
    expect(r.lines[0]).toBe(
      [
        "Read 1 account from x.csv.",
        "1 line I couldn't use:",
        '• line 1: "Username" has no server — write it as Username@example.social',
      ].join("\n"),
    );
  });

  it("accepts a bare list of handles, pasted as text", async () => {
    const chat = await atUpload();
    const r = await chat.send("@a@one.example\n@b@two.example");
    expect(r.lines[0]).toBe("Read 2 accounts from pasted handles.");
  });

  const refused: [string, Input, RegExp][] = [
    ["an empty file", file("following_accounts.csv", ""), /^The file is empty\. Nothing changed/],
    [
      "a header without an account column",
      file("following_accounts.csv", "Show boosts,Account\ntrue,bob@a.example\n"),
      /^This file's first line is a header without an “Account address” column/,
    ],
    [
      "another export",
      file("blocked_domains.csv", "#domain\nspam.example\n"),
      /^This looks like a list of blocked domains \(blocked_domains\.csv\), not the accounts you follow/,
    ],
    [
      "20,001 rows",
      file(
        "following_accounts.csv",
        `${HEADER}\n${Array.from({ length: 20_001 }, (_, k) => `u${k}@a.example,true,false,`).join("\n")}\n`,
      ),
      /^This file has 20,001 accounts; Mastodon and I take at most 20,000 per file\. Split it and send the parts\./,
    ],
    [
      "20 MB of blank lines",
      file("following_accounts.csv", padded(`${HEADER}\na@one.example,true,false,\n`, 0x0a)),
      /^This file has more than 20,000 blank lines; I take at most 20,000 per file\. Delete them and send it again\. Nothing changed/,
    ],
    [
      "20 MB in one cell",
      file("following_accounts.csv", padded(`${HEADER}\n"a@one.example`, 0x61)),
      /^This file has a line over 10,000 characters long \(line 2\); a follows file has one account a line\. Check it's the right file and send it again\. Nothing changed/,
    ],
    [
      "20 MB after a quote that never closes",
      file("following_accounts.csv", padded(`${HEADER}\n"a@one.example,true\n`, 0x0a)),
      /^This file isn't valid CSV: on line 2 a quoted field runs on for more than 10,000 characters\. Nothing changed/,
    ],
    [
      "a binary file",
      file(
        "following_accounts.csv",
        new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
      ),
      /^This doesn't look like a CSV file — it has binary data\. Nothing changed/,
    ],
    [
      "a file over 20 MB",
      {
        kind: "file",
        name: "big.csv",
        size: 20 * 1024 * 1024 + 1,
        read: async () => new Uint8Array(0),
      },
      /^This file is over 20 MB/,
    ],
  ];
  it.each(refused)(
    "refuses %s with a clear reason and changes nothing",
    async (_name, input, reason) => {
      const chat = await atUpload();
      const before = await chat.state();
      const r = await chat.send(input);
      expect(r.text).toMatch(reason);
      expect(await chat.state()).toEqual(before);
      expect(await chat.store.namespace("snapshots").get(chat.user)).toBeUndefined();
    },
  );
});
