/**
 * Two real processes on one backend, each doing N locked increments of one
 * counter: any lost update leaves the count short of 2N. Servers that are down
 * make this fail, never skip.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";

const N = 40;
const root = fileURLToPath(new URL("../..", import.meta.url));
const worker = fileURLToPath(new URL("./increment-worker.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "fedimove-cross-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends: Record<string, string> = {
  sqlite: `sqlite:${join(dir, "shared.sqlite")}`,
  redis: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
  postgres: process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
};

/** A worker, with promises made at spawn time so no line or exit is missed. */
function startWorker(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", worker, ...args], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  // Kept, so a worker that dies says why in the failure itself (CI shows only part of the output).
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.trim() === "ready") resolve();
    });
    void exited.then((code) =>
      reject(new Error(`worker exited (${code}) before it was ready:\n${stderr}`)),
    );
  });
  return { child, ready, exited };
}

for (const [name, url] of Object.entries(backends)) {
  describe(name, () => {
    it(`two processes doing ${N} locked increments each count to ${2 * N}`, async () => {
      const suffix = randomBytes(4).toString("hex");
      const namespace = `x-${suffix}`;
      const lock = `x-lock-${suffix}`;
      const workers = [0, 1].map(() => startWorker([url, namespace, lock, String(N)]));
      try {
        await Promise.all(workers.map((w) => w.ready));
        for (const w of workers) w.child.stdin.write("go\n");
        expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
      } finally {
        for (const w of workers) if (w.child.exitCode === null) w.child.kill();
      }

      const store = await openStore(url);
      const kv = store.namespace(namespace);
      try {
        expect(await kv.get("counter")).toBe(2 * N);
      } finally {
        await kv.delete("counter");
        await store.close();
      }
    });
  });
}
