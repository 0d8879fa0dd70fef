/**
 * One bot process of bench/scale.ts's part 2: the real core on the Redis store, no channel.
 * Prints "ready", and on a line on stdin sends MESSAGES messages for each user in USERS (JSON
 * list of keys), CONCURRENCY users at once, each message a real turn (commands and the first
 * steps, nothing remote), then prints one JSON line: the turns' times in ms, the wall time and
 * the CPU time this process spent meanwhile.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import type { Input, UserKey } from "../../src/chat/conversation.js";
import { createCore } from "../../src/core.js";
import { openStore } from "../../src/store/open-store.js";
import { Sealer } from "../../src/store/seal.js";

const users = JSON.parse(process.env.USERS ?? "[]") as UserKey[];
const messages = Number(process.env.MESSAGES ?? 10);
const concurrency = Number(process.env.CONCURRENCY ?? 50);
const store = await openStore(process.env.STORE_URL ?? "redis://127.0.0.1:6379");
const core = createCore({
  store,
  sealer: new Sealer(randomBytes(32)),
  network: { allowPrivateNetwork: true, timeoutMs: 5000, originOf: (h) => `http://${h}` },
});
const script: Input[] = [
  { kind: "command", name: "start", args: "" },
  { kind: "command", name: "help", args: "" },
  { kind: "command", name: "status", args: "" },
];

/** Each of `people` sends `messages` messages, `concurrency` of them at once; each turn's time in ms. */
async function converse(people: readonly UserKey[]): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let k = next++; k < people.length; k = next++) {
        for (let m = 0; m < messages; m++) {
          const t = performance.now();
          await core.engine.receive(people[k]!, script[m % script.length]!, async () => {});
          times.push(performance.now() - t);
        }
      }
    }),
  );
  return times;
}

// Warm first, as a bot that has been up a while is: code compiled and optimised, connections
// open. Cold, each process pays that during the run, and two processes pay it twice.
const warmUp = Number(process.env.WARMUP_USERS ?? 100);
await converse(
  Array.from({ length: warmUp }, (): UserKey => `tg:warm${randomBytes(6).toString("hex")}`),
);
process.stdout.write("ready\n");
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once("line", () => resolve()));
const started = performance.now();
const cpuBefore = process.cpuUsage();
const times = await converse(users);
// This process's CPU for the run (the load it generates is in it: engine.receive called directly).
const cpu = process.cpuUsage(cpuBefore);
const cpuMs = (cpu.user + cpu.system) / 1000;
process.stdout.write(`${JSON.stringify({ wallMs: performance.now() - started, cpuMs, times })}\n`);
lines.close();
await core.close();
await store.close();
