/**
 * The finished message from the watch's facts, when the old server's list of who stayed is
 * longer than the watch could read at once: the count is the whole, the list its first pages.
 */
import { describe, expect, it } from "vitest";
import type { Moving } from "../../src/model/state.js";
import { finishedReplies } from "../../src/steps/lib/transfer-report.js";
import { render } from "../helpers/chat.js";

const state = {
  oldHandle: "ada@old.example",
  source: { kind: "file", instance: { origin: "https://old.example" } },
} as unknown as Moving;

const result = {
  initial: 12_000,
  moved: 2_000,
  stayed: 10_000,
  counted: true,
  ended: "settled" as const,
  at: 0,
};

const textOf = (replies: ReturnType<typeof finishedReplies>) =>
  render(replies.filter((r) => r.kind === "say"));

describe("the finished message", () => {
  it("says when only the first of those who stayed could be read, and lists those", () => {
    const stayed = Array.from({ length: 7_840 }, (_, k) => `f${k}@quiet.example`);
    const replies = finishedReplies(
      {
        event: "finished",
        result,
        stayed,
        partial: true,
        servers: [{ host: "quiet.example", count: 7_840, reason: { kind: "not-answering" } }],
      },
      state,
    );
    expect(textOf(replies)[0]).toBe(
      [
        "Your move is finished: 2,000 of 12,000 followers moved (17%).",
        "10,000 stayed behind. Your old server's list of them is too long to read in full without overloading it, so here are the first 7,840:",
        "• quiet.example: 7,840 — server not answering",
        "The count has stopped changing, so I'm calling it done.",
      ].join("\n"),
    );
    const csv = replies.find((r) => r.kind === "file" && r.name === "stayed.csv");
    const rows = new TextDecoder()
      .decode(csv?.kind === "file" ? csv.bytes : new Uint8Array())
      .trimEnd()
      .split("\n");
    expect(rows).toHaveLength(7_841);
  });

  it("says nothing of a partial list when the whole was read", () => {
    const replies = finishedReplies(
      {
        event: "finished",
        result: { ...result, initial: 3, moved: 1, stayed: 2 },
        stayed: ["a@quiet.example", "b@quiet.example"],
        servers: [{ host: "quiet.example", count: 2, reason: { kind: "not-answering" } }],
      },
      state,
    );
    expect(textOf(replies)[0]).toContain("\n2 stayed behind:\n• quiet.example: 2");
  });
});
