/**
 * A job's report to a person on the DM channel, made by a process that doesn't hold the DM
 * intake (BullMQ hands a job to any process): the holder posts it without waiting for its
 * outbox sweep, once, threaded to the person's latest message and in line with their other
 * answers (before the answer to a message that reached the holder after it), and the process
 * that made it logs nothing at warn level (nothing went wrong). A process waiting for the
 * intake stops when asked. Two bots on one store, one stand-in Mastodon server.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import type { UserKey } from "../../src/chat/conversation.js";
import { logContext } from "../../src/log.js";
import { STATE_VERSION } from "../../src/model/state.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { Sealer } from "../../src/store/seal.js";
import { botSaid, type DmBot, plainOf, startDmBot, until } from "./dm-helpers.js";

let sb: MastodonSandbox | undefined;
const bots: DmBot[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const b of bots.splice(0)) await b.close();
  await sb?.close();
});

/** The log lines written while the test runs, parsed. */
function logLines(): { level: string; msg: string; proc?: string }[] {
  const lines: { level: string; msg: string; proc?: string }[] = [];
  const write = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk, ...rest) => {
    for (const line of String(chunk).split("\n")) {
      if (line.startsWith("{")) lines.push(JSON.parse(line));
    }
    return write(chunk as string, ...(rest as []));
  });
  return lines;
}

/**
 * Saves the person's state as waiting for an export job (what a turn would have saved), once
 * their last turn has finished writing (its replies acknowledged, out of the outbox).
 */
async function waitingForExport(bot: DmBot, user: UserKey, jobId: string): Promise<void> {
  type Saved = { seq: number; outbox?: unknown[] };
  const read = async () => (await bot.store.namespace("users").get(user)) as Saved | undefined;
  let saved = await read();
  for (let k = 0; !saved || (saved.outbox?.length ?? 0) > 0; k++) {
    if (k > 400) throw new Error("the last turn's replies never left the outbox");
    await new Promise((r) => setTimeout(r, 25));
    saved = await read();
  }
  await bot.store.namespace("users").set(user, {
    v: STATE_VERSION,
    seq: (saved?.seq ?? 0) + 1,
    state: {
      step: "exporting",
      old: {
        instance: {
          origin: "https://old.example",
          host: "old.example",
          domain: "old.example",
          version: "4.3.2",
        },
        id: "1",
        handle: "ada@old.example",
        token: new Sealer(randomBytes(32)).seal("t"),
        via: "pasted",
      },
      jobId,
      startedAt: Date.now(),
    },
    history: [],
    updatedAt: Date.now(),
  });
}

/** Ada says hello and is answered; then she waits for an export job, as a turn would leave her. */
async function helloThenExporting(sb: MastodonSandbox, holder: DmBot) {
  const hello = sb.postAs("ada", "@movebot hello", { visibility: "direct" });
  await until(
    () => botSaid(sb, "ada").length,
    (n) => n >= 1,
  );
  const user = `mastodon:${sb.actorUri("ada")}` as const;
  const jobId = randomUUID();
  await waitingForExport(holder, user, jobId);
  return { hello, user, jobId };
}

describe("Mastodon DM channel, a report from a process without the intake", () => {
  it("is posted by the holder within seconds, once, in order, and the reporter logs no warning", async () => {
    sb = await startMastodonSandbox({ domain: "bots.example", rateLimit: null });
    sb.addAccount({ username: "movebot" });
    sb.addAccount({ username: "ada" });
    const lines = logLines();
    const store = openMemoryStore(`dm-elsewhere-${randomUUID()}`);
    // The holder's outbox sweep runs at its start only: a report that arrives was not brought
    // by a sweep (the app's runs every 30 s, and until now brought it ~30.0 s later).
    const holder = await logContext({ proc: "holder" }, () =>
      startDmBot(sb!, { store, outboxEveryMs: 3_600_000 }),
    );
    bots.push(holder);
    const other = await logContext({ proc: "other" }, () =>
      startDmBot(sb!, { store, holder: false }),
    );
    bots.push(other);

    const { hello, user, jobId } = await helloThenExporting(sb, holder);

    const ack = await logContext({ proc: "other" }, () =>
      other.engine.report(user, {
        kind: "job",
        job: "snapshot",
        id: jobId,
        event: "failed",
        error: new Error("boom"),
      }),
    );
    expect(ack).toBe("taken");
    const report = await until(
      () => botSaid(sb!, "ada").filter((s) => /couldn't finish saving/.test(plainOf(s.content))),
      (s) => s.length >= 1,
      30_000,
    );
    // A moment for a second copy to show.
    await new Promise((r) => setTimeout(r, 1_000));
    const said = botSaid(sb, "ada");
    expect(said.filter((s) => /couldn't finish saving/.test(plainOf(s.content)))).toHaveLength(1);
    // After the answer to hello, replying to the person's latest message.
    expect(said.map((s) => s.id).indexOf(report[0]!.id)).toBe(1);
    expect(report[0]!.in_reply_to_id).toBe(hello.id);
    expect(
      lines.filter((l) => l.proc === "other" && l.level !== "debug" && l.level !== "info"),
    ).toEqual([]);
  }, 60_000);

  it("goes out before the answer to the person's next message, when that message comes first to the holder", async () => {
    sb = await startMastodonSandbox({ domain: "bots.example", rateLimit: null });
    sb.addAccount({ username: "movebot" });
    sb.addAccount({ username: "ada" });
    const store = openMemoryStore(`dm-elsewhere-${randomUUID()}`);
    // The holder doesn't look for the report: the person's next message reaches it first.
    const holder = await startDmBot(sb, { store, extra: { waitingMs: 600_000 } });
    bots.push(holder);
    const other = await startDmBot(sb, { store, holder: false });
    bots.push(other);
    const { user, jobId } = await helloThenExporting(sb, holder);
    await other.engine.report(user, {
      kind: "job",
      job: "snapshot",
      id: jobId,
      event: "failed",
      error: new Error("boom"),
    });
    const help = sb.postAs("ada", "@movebot /help", { visibility: "direct" });
    const said = await until(
      () => botSaid(sb!, "ada").map((s) => plainOf(s.content)),
      (s) => s.length >= 3,
      20_000,
    );
    expect(said[1]).toMatch(/couldn't finish saving/);
    expect(said[2]).toMatch(/Commands/);
    expect(botSaid(sb, "ada")[2]!.in_reply_to_id).toBe(help.id);
  }, 60_000);

  it("a process waiting for the intake stops when asked, and never starts listening after", async () => {
    sb = await startMastodonSandbox({ domain: "bots.example", rateLimit: null });
    sb.addAccount({ username: "movebot" });
    const store = openMemoryStore(`dm-elsewhere-${randomUUID()}`);
    const holder = await startDmBot(sb, { store });
    bots.push(holder);
    const other = await startDmBot(sb, { store, holder: false });
    // Its start has read the server's rules (the holder's and its own): it waits for the lease.
    await until(
      () => sb!.requests.filter((r) => r.path === "/api/v2/instance" && r.status === 200).length,
      (n) => n >= 2,
    );
    await new Promise((r) => setTimeout(r, 300));
    // Stopped while the holder still holds the lease (SIGTERM to a second process).
    await other.close();
    await holder.close();
    bots.splice(0);
    // Longer than its wait between attempts at the lease: it would have taken it by now.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sb.streamConnections()).toBe(0);
  }, 60_000);
});
