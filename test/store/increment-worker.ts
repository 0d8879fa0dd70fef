/**
 * A child process for cross-process.test.ts: opens the store, says "ready", waits
 * for "go" on stdin so both children start together, then does N lock-protected
 * read-modify-write increments and exits 0.
 * Usage: node --import tsx increment-worker.ts <url> <namespace> <lock> <n>
 */
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { collection } from "../../src/store/collection.js";
import { openStore } from "../../src/store/open-store.js";
import { withLock } from "../../src/store/with-lock.js";

const [url, namespace, lock, count] = process.argv.slice(2);
if (!url || !namespace || !lock || !count) throw new Error("usage: <url> <namespace> <lock> <n>");

const store = await openStore(url);
const kv = collection(store, namespace, z.number());
process.stdout.write("ready\n");
await once(process.stdin, "data");

for (let i = 0; i < Number(count); i++) {
  await withLock(
    store.locks,
    lock,
    async () => {
      const current = (await kv.get("counter")) ?? 0;
      await sleep(Math.random() * 2);
      await kv.set("counter", current + 1);
    },
    { ttlMs: 5_000, pollMs: 2 },
  );
}
await store.close();
// stdin is still open; without exit the process would wait on it.
process.exit(0);
