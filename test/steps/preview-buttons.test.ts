/**
 * The import preview takes only the buttons it offered (found by the reliability fuzzer): with
 * nothing left to follow no import starts, and with accounts to follow "Try it first" of the
 * other preview doesn't skip them. A press of the other preview's button, with the current
 * stamp (a forged or mistaken callback), gets the preview again and changes nothing.
 */
import { describe, expect, it } from "vitest";
import type { Sealed } from "../../src/model/sealed.js";
import type { State } from "../../src/model/state.js";
import { makeChat } from "../helpers/chat.js";
import { fakeWorld } from "../helpers/fake-world.js";

const preview = (toFollow: number, token: Sealed): State => ({
  step: "import-preview",
  source: { kind: "file", instance: ORIGIN, name: "following_accounts.csv" },
  follows: 3,
  snapshotAt: 0,
  target: {
    kind: "microblog",
    domain: "micro.blog",
    username: "ada",
    handle: "ada@micro.blog",
    token,
  },
  preview: {
    toFollow,
    already: 3 - toFollow,
    unreachable: 0,
    unreachableServers: [],
    dailyLimit: null,
  },
});
const ORIGIN = {
  origin: "https://old.example",
  host: "old.example",
  domain: "old.example",
  version: "4.3.2",
};

async function placed(toFollow: number) {
  const chat = await makeChat(fakeWorld());
  const state = preview(toFollow, chat.sealer.seal("app-token"));
  await chat.placeAt(state);
  const before = await chat.state();
  return { chat, before };
}

describe("the import preview's buttons", () => {
  it("with nothing to follow, starts no import", async () => {
    const { chat, before } = await placed(0);
    for (const id of ["start", "start-move", "web"]) {
      const r = await chat.send({ kind: "choice", id, seq: chat.seq });
      expect(r.lines).toEqual([
        "@ada@micro.blog already follows all 3 accounts. Nothing to import.",
      ]);
      expect(await chat.state()).toEqual(before);
    }
  });

  it("with accounts to follow, doesn't skip them", async () => {
    const { chat, before } = await placed(2);
    for (const id of ["skip", "move"]) {
      const r = await chat.send({ kind: "choice", id, seq: chat.seq });
      expect(r.lines).toEqual([
        "I'll follow your 2 accounts on @ada@micro.blog. 1 you already follow.",
      ]);
      expect(r.replies[0]).toMatchObject({
        choices: [
          { label: "Follow them, then move" },
          { label: "Follow them, try it first" },
          { label: "I'll import the CSV myself" },
        ],
      });
      expect(await chat.state()).toEqual(before);
    }
  });
});
