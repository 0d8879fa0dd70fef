/**
 * The import to micro.blog when the network fails now and then, as micro.blog and the user see
 * it: a follow whose answer was lost is asked about before it goes out again, however late it
 * lands, and a follow that failed for a passing reason is tried again later; only a refusal is
 * reported as not followed. A follow on its way when the bot was killed is taken the same way by
 * the process that resumes the import.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Reply } from "../../src/chat/conversation.js";
import { openMemoryStore } from "../../src/store/memory-store.js";
import { Sealer } from "../../src/store/seal.js";
import { killable } from "../helpers/backends.js";
import { type Loopback, makeChat, render } from "../helpers/chat.js";
import { closedAfterEach } from "../helpers/closing.js";
import { uploadFollows } from "../helpers/follows-csv.js";
import { type TcpProxy, tcpProxy } from "../helpers/tcp-proxy.js";
import { MB, type MoveWorld, moveWorlds } from "../helpers/worlds.js";

const openWorld = moveWorlds();
const links = closedAfterEach<TcpProxy>();

/** A user who uploaded their follows (each an account micro.blog can follow), at the app token. */
async function uploaded(
  accts: string[],
  opts: Parameters<typeof makeChat>[1],
  reach: (world: MoveWorld) => Promise<Loopback> = async (world) => world.loopback,
) {
  const world = await openWorld();
  for (const a of accts) world.mb.addRemote(a, { exists: true });
  const chat = await makeChat(await reach(world), opts);
  await uploadFollows(chat, accts);
  return { chat, world, mb: world.mb };
}

const texts = (replies: readonly Reply[]) => render(replies.filter((r) => r.kind !== "progress"));
const follows = (mb: { requests: readonly { method: string; path: string }[] }) =>
  mb.requests.filter((r) => r.method === "POST" && r.path.startsWith("/users/follow")).length;

/**
 * A user's import in a process killed (its store, and its connections to micro.blog, cut: its
 * lease, renewed every 2/3 s while it lives, runs out within 2 s) once micro.blog has seen
 * `killAt` follow requests, `faults` given to the first ones; then taken over by another
 * process, whose import waits 3 s (doubling) before asking about a follow. `backlogEmpty`: 3.5 s
 * after the kill, when micro.blog has handled whatever it held.
 */
async function killedMidFollow(
  accts: string[],
  opts: {
    faults: ({ queuedMs: number } | { status: number })[];
    killAt: number;
    firstRetryMs?: number;
  },
) {
  const store = openMemoryStore();
  const sealer = new Sealer(randomBytes(32));
  const doomed = killable(store);
  let link: TcpProxy | undefined;
  const { chat, world, mb } = await uploaded(
    accts,
    { store: doomed.store, sealer, jobLeaseMs: 2000, importRetryMs: opts.firstRetryMs },
    async (w) => {
      link = links(await tcpProxy("127.0.0.1", Number(new URL(w.mb.url).port)));
      const via = new URL(link.url(w.mb.url)).origin;
      return { ...w.loopback, microblogUrl: via, origins: { ...w.origins, [MB]: via } };
    },
  );
  await chat.send(world.appToken);
  for (const fault of opts.faults)
    mb.failNext(1, { ...fault, path: "/users/follow", method: "POST" });
  await chat.press("Follow them, try it first");
  const { jobId } = (await chat.state()) as { jobId: string };
  while (follows(mb) < opts.killAt) await sleep(5);
  doomed.kill();
  await link?.down();
  const killedAt = Date.now();
  const next = await makeChat(world.loopback, { store, sealer, importRetryMs: 3000 });
  while ((await next.jobs.get(jobId))?.status === "running") {
    await next.jobs.resumeAll();
    await next.jobs.idle();
    await sleep(50);
  }
  return { next, mb, backlogEmpty: sleep(Math.max(0, killedAt + 3500 - Date.now())) };
}

describe("the import when requests fail", () => {
  it("a follow given up on that reaches micro.blog late is not sent again", async () => {
    const { chat, world, mb } = await uploaded(["a@one.example", "b@one.example"], {
      timeoutMs: 1000,
    });
    await chat.send(world.appToken);
    // The first follow waits in micro.blog's backlog past the bot's timeout, then is made.
    mb.failNext(1, { queuedMs: 2500, path: "/users/follow", method: "POST" });
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    // However the import went, the backlog has emptied before anything is counted.
    await sleep(2500);
    expect(texts(chat.notified)[0]).toBe("Done: 2 followed.");
    expect(mb.followRequestsOf("ada")).toEqual({ "a@one.example": 1, "b@one.example": 1 });
  });

  it("a follow on its way when the bot is killed is asked about after a pause by the process that resumes, not sent again", async () => {
    const { next, mb, backlogEmpty } = await killedMidFollow(["a@one.example", "b@one.example"], {
      // The first follow waits in micro.blog's backlog for 3 s, then is made.
      faults: [{ queuedMs: 3000 }],
      killAt: 1,
    });
    await backlogEmpty;
    expect(texts(next.notified)[0]).toBe("Done: 2 followed.");
    expect(mb.followRequestsOf("ada")).toEqual({ "a@one.example": 1, "b@one.example": 1 });
  });

  it("a follow sent again after a passing failure and on its way when the bot is killed is not sent a third time", async () => {
    const { next, mb, backlogEmpty } = await killedMidFollow(["a@one.example"], {
      // The first follow fails (nothing made); sent again, it waits in the backlog for 3 s.
      faults: [{ status: 503 }, { queuedMs: 3000 }],
      killAt: 2,
      firstRetryMs: 100,
    });
    await backlogEmpty;
    expect(texts(next.notified)[0]).toBe("Done: 1 followed.");
    expect(mb.followRequestsOf("ada")).toEqual({ "a@one.example": 1 });
  });

  it("a follow that keeps failing for a passing reason is tried again later, and made once", async () => {
    const { chat, world, mb } = await uploaded(["a@one.example"], { importRetryMs: 100 });
    await chat.send(world.appToken);
    // Four 503s in a row to the follow, nothing made each time.
    mb.failNext(4, { status: 503, path: "/users/follow", method: "POST" });
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    expect(texts(chat.notified)[0]).toBe("Done: 1 followed.");
    expect(mb.followRequestsOf("ada")).toEqual({ "a@one.example": 1 });
    expect(follows(mb)).toBe(5);
  });

  it("a refusal is reported at once, not tried again", async () => {
    const { chat, world, mb } = await uploaded(["odd@one.example"], { importRetryMs: 100 });
    mb.addRemote("odd@one.example", {
      exists: true,
      refuseFollow: { status: 422, body: '{"error":"Error while processing the request."}' },
    });
    await chat.send(world.appToken);
    await chat.press("Follow them, try it first");
    await chat.jobs.idle();
    expect(texts(chat.notified)[0]).toBe("Done: 1 failed.");
    const file = chat.notified.find((x) => x.kind === "file" && x.name === "not-followed.csv");
    expect(file?.kind === "file" && new TextDecoder().decode(file.bytes)).toMatch(
      /^Account address,Result,Reason\nodd@one\.example,failed,/,
    );
    expect(follows(mb)).toBe(1);
  });
});
