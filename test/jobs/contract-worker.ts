/**
 * A child process for contract.test.ts: opens the store and a queue of the named
 * rig, starts a job of three units, prints "unit <i>" as each begins and hangs for
 * ever in unit 1, where the test kills it (SIGKILL: no cleanup of any kind).
 * Usage: node --import tsx contract-worker.ts <rig> <store url> <shared> <job id> <user>
 */
import { openStore } from "../../src/store/open-store.js";
import { rigs, unitsJob } from "./contract-rigs.js";

const [rigName, url, shared, id, user] = process.argv.slice(2);
const rig = rigName ? rigs[rigName] : undefined;
if (!rig || !url || !shared || !id || !user) {
  throw new Error("usage: <rig> <store url> <shared> <job id> <user>");
}
const store = await openStore(url);
const { jobs } = await rig.open(store, shared, { leaseMs: 1_000 });
jobs.register(
  unitsJob(async (i) => {
    process.stdout.write(`unit ${i}\n`);
    if (i === 1) await new Promise(() => {});
  }),
);
jobs.reporter = { report: async () => "taken", wants: async () => true };
await jobs.startSweeping();
await jobs.start(user as `tg:${string}`, { kind: "units", id, data: { units: 3 } });
