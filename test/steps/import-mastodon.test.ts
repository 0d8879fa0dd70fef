/**
 * Importing to another Mastodon-API server: OAuth with follow scopes only,
 * search with resolve, follows with the old options, and the server's daily
 * follow limit waited out (compressed here to a few seconds).
 */
import { afterEach, describe, expect, it } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import type { Input } from "../../src/chat/conversation.js";
import { makeChat, render } from "../helpers/chat.js";

let oldServer: MastodonSandbox | undefined;
let newServer: MastodonSandbox | undefined;
afterEach(async () => {
  await oldServer?.close();
  await newServer?.close();
  oldServer = newServer = undefined;
});

const HEADER = "Account address,Show boosts,Notify on new posts,Languages";

describe("import to a Mastodon-API server", () => {
  it("signs in with follow scopes, follows with the old options, waits out the daily limit and reports", async () => {
    oldServer = await startMastodonSandbox({ rateLimit: null, domain: "old.example" });
    newServer = await startMastodonSandbox({
      rateLimit: null,
      domain: "new.example",
      followLimit: { limit: 4, periodMs: 1500 },
    });
    newServer.addAccount({ username: "ada" });
    const accts = Array.from({ length: 6 }, (_, k) => `friend${k}@far.example`);
    for (const a of accts) newServer.addResolvable(a);
    newServer.addResolvable("shy@far.example", { locked: true });
    newServer.addResolvable("gone@far.example", { moved: true });
    const all = [...accts, "shy@far.example", "gone@far.example", "nobody@far.example"];

    const chat = await makeChat({});
    await chat.send("/start");
    await chat.send(oldServer.url);
    await chat.press("Upload a file instead");
    const csv = `${HEADER}\n${all.map((a, k) => `${a},${k % 2 === 0},${k === 1},${k === 2 ? '"en, de"' : ""}`).join("\n")}\n`;
    const bytes = new TextEncoder().encode(csv);
    await chat.send({
      kind: "file",
      name: "following_accounts.csv",
      size: bytes.length,
      read: async () => bytes,
    } satisfies Input);
    await chat.press("Another server");
    const signIn = await chat.send(newServer.url);
    const link = signIn.replies.flatMap((r) => (r.kind === "say" ? (r.links ?? []) : []))[0]!.url;
    expect(new URL(link).searchParams.get("scope")).toBe(
      "read:accounts read:follows read:search write:follows",
    );

    const connected = await chat.send(newServer.authorize("ada", link).code);
    expect(connected.secret).toBe(true);
    expect(connected.lines[0]).toBe(`Connected: your new account is @ada@new.example.`);
    // Under 400 follows: no word of the daily limit yet (the server's own window here is 4 per 1.5 s).
    expect(connected.lines[1]).toBe("I'll follow your 9 accounts on @ada@new.example.");

    await chat.press("Follow them, try it first");
    await chat.until((s) => s?.step === "import-done", 30_000);
    const said = render(chat.notified.filter((r) => r.kind !== "progress"));
    expect(said[0]).toBe("Done: 6 followed, 1 waiting for approval, 1 not found, 1 refused.");
    const waits = render(chat.notified.filter((r) => r.kind === "progress"));
    expect(
      waits.some((w) => /^Waiting for .*'s rate limit; continuing at \d\d:\d\d UTC\.$/.test(w)),
    ).toBe(true);
    const report = chat.notified.find((r) => r.kind === "file" && r.name === "not-followed.csv");
    expect(report?.kind === "file" && new TextDecoder().decode(report.bytes)).toBe(
      "Account address,Result,Reason\ngone@far.example,refused,This action is not allowed\nnobody@far.example,not found,the server couldn't find this account\n",
    );
    // The old options went along: show boosts, notify and languages (once the remote servers accept).
    newServer.acceptPendingFollows();
    const rel = newServer.snapshotOf("ada").following;
    const friend2 = rel.find((f) => f.acct === "friend2@far.example");
    expect(friend2).toMatchObject({ showReblogs: true, notify: false, languages: ["en", "de"] });
    const friend1 = rel.find((f) => f.acct === "friend1@far.example");
    expect(friend1).toMatchObject({ showReblogs: false, notify: true });
  });
});
