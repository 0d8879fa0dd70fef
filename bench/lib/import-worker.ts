/**
 * One bot process of bench/scale.ts's import rounds: the real core (engine, JobRunner with
 * registerJobs, MicroblogClient over Http and the pacer) on the Redis store, so its limits
 * are the ones every process on that Redis shares. It seeds its users at the import preview,
 * prints "ready", presses "Start following" for all of them when a line comes on stdin, and
 * prints one JSON line when its jobs are done: when, and what each user was told.
 *
 * Environment: STORE_URL, MB_URL, LIMIT, WINDOW_MS, BLOCK_MS, SLACK_MS, HTTP_TIMEOUT_MS and
 * USERS (JSON: [{ user, username, token, handles }]).
 */
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import type { UserKey } from "../../src/chat/conversation.js";
import { plain } from "../../src/chat/text.js";
import { MICROBLOG_LIMIT } from "../../src/clients/microblog.js";
import { createCore } from "../../src/core.js";
import { Pacer } from "../../src/net/pacer.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";
import { DOMAIN, seedPreview } from "./import-run.js";

const env = (name: string) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
interface Person {
  user: UserKey;
  username: string;
  token: string;
  handles: string[];
}
const people = JSON.parse(env("USERS")) as Person[];
const store = await openStore(env("STORE_URL"));
const pacer = new Pacer(Number(env("SLACK_MS")));
pacer.rule(env("MB_URL"), {
  ...MICROBLOG_LIMIT,
  limit: Number(env("LIMIT")),
  windowMs: Number(env("WINDOW_MS")),
  blockMs: Number(env("BLOCK_MS")),
});
const core = createCore({
  store,
  sealer: new Sealer(randomBytes(32)),
  network: {
    allowPrivateNetwork: true,
    timeoutMs: Number(env("HTTP_TIMEOUT_MS")),
    originOf: (host) => `http://${host}`,
    microblog: { origin: env("MB_URL"), domain: DOMAIN },
    pacer,
  },
});
const told: Record<string, [string, number]> = {};
const nameOf = new Map(people.map((p) => [p.user, p.username]));
core.engine.notifier = {
  async notify(user, replies) {
    const username = nameOf.get(user)!;
    for (const r of replies)
      if (r.kind === "say" && !told[username]) told[username] = [plain(r.text), Date.now()];
  },
};
const now = Date.now();
for (const p of people) await seedPreview(core, p.user, p.username, p.token, p.handles, now);
process.stdout.write("ready\n");
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once("line", () => resolve()));
await Promise.all(
  people.map((p) =>
    core.engine.receive(p.user, { kind: "choice", id: "start", seq: 1 }, async () => {}),
  ),
);
await core.jobs.idle();
process.stdout.write(`${JSON.stringify({ endedAt: Date.now(), told })}\n`);
lines.close();
await core.close();
await store.close();
