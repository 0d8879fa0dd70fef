/**
 * One bot process for shared-limit.test.ts: on the store at STORE_URL (Redis), it follows
 * every handle in HANDLES on the micro.blog stand-in at MB_URL, all at once through one
 * Http, its pacer keeping micro.blog's rule scaled to LIMIT per WINDOW_MS. Prints one JSON
 * line with the outcomes.
 */
import { MICROBLOG_LIMIT, MicroblogClient } from "../../src/clients/microblog.js";
import { GuardedDispatcher } from "../../src/net/dispatcher.js";
import { Http } from "../../src/net/http.js";
import { Pacer } from "../../src/net/pacer.js";
import { openStore } from "../../src/store/open-store.js";

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const store = await openStore(env("STORE_URL"));
const windowMs = Number(env("WINDOW_MS"));
// Arrivals jitter, on a busy machine more so: the test sets a slack that covers its machine's
// stalls (production keeps 250 ms against micro.blog's 60 s window).
const pacer = new Pacer(Number(env("SLACK_MS")));
pacer.rule(env("MB_URL"), {
  ...MICROBLOG_LIMIT,
  limit: Number(env("LIMIT")),
  windowMs,
  blockMs: windowMs,
});
if (store.limits) pacer.share(store.limits);
const dispatcher = new GuardedDispatcher(pacer, true);
const client = new MicroblogClient(new Http(dispatcher, 10_000, 50), env("MB_URL"));
const handles = JSON.parse(env("HANDLES")) as string[];
const outcomes = await Promise.all(
  handles.map((h) =>
    client.follow(env("TOKEN"), h).then(
      (o) => o.kind,
      (e: Error) => e.name,
    ),
  ),
);
process.stdout.write(`${JSON.stringify({ outcomes })}\n`);
await dispatcher.close();
await store.close();
