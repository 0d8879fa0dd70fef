/**
 * A saved state for every step of the registry, built directly rather than walked to: each is
 * parsed by the state schema (src/model/state.ts), so it is one the journey could have saved,
 * and it points at the town's real stand-ins (the old server, micro.blog, a second account on
 * the old server as a Mastodon-API target), so what a step checks there answers as it would.
 * Several steps come in the variants they branch on (a sign-in link or none, micro.blog or
 * Mastodon as the target, a follows file or a signed-in account). The builders are keyed by
 * every step name, so a step added to the journey doesn't compile here until it has one.
 */
import { randomUUID } from "node:crypto";
import type { UserKey } from "../../../src/chat/conversation.js";
import type { SignIn } from "../../../src/clients/sign-in.js";
import { emptySnapshot, type Snapshot } from "../../../src/model/snapshot.js";
import { State, type StateOf, type StepName } from "../../../src/model/state.js";
import type { Sealer } from "../../../src/store/seal.js";
import type { Person, Town } from "./town.js";

/** One state to fuzz at, with what the person's saved snapshot holds there. */
export interface Place {
  /** The step, and the variant when there are several ("import-preview (mastodon)"). */
  label: string;
  state: State;
  snapshot: Snapshot;
}

export interface PlaceKit {
  town: Town;
  person: Person;
  user: UserKey;
  sealer: Sealer;
  /** The bot's own sign-in, so a pending sign-in is one the old server will finish. */
  signIn: Pick<SignIn, "begin">;
  /** The account on the old server that plays the new one when the target isn't micro.blog. */
  newAccount: { username: string; id: string; token: string };
}

const DAY = 24 * 60 * 60_000;

type Variants<K extends StepName> = Record<string, Omit<StateOf<K>, "step">>;
type Builders = { [K in StepName]: (kit: PlaceKit) => Promise<Variants<K>> | Variants<K> };

function parts(kit: PlaceKit) {
  const { town, person, sealer } = kit;
  const { old, mb } = town.world;
  const now = Date.now();
  const instance = { origin: old.url, host: old.domain, domain: old.domain, version: "4.3.2" };
  const oldAccount = {
    instance,
    id: old.getAccount(person.username)?.id ?? "1",
    handle: `${person.username}@${old.domain}`,
    token: sealer.seal(person.oldToken),
    via: "pasted" as const,
  };
  const follows = person.follows.length;
  const account = {
    source: { kind: "account" as const, old: oldAccount },
    follows,
    snapshotAt: now,
  };
  const file = {
    source: { kind: "file" as const, instance, name: "following_accounts.csv" },
    follows,
    snapshotAt: now,
  };
  const microblog = {
    kind: "microblog" as const,
    domain: mb.domain,
    username: person.username,
    handle: `${person.username}@${mb.domain}`,
    token: sealer.seal(person.appToken),
  };
  const mastodon = {
    kind: "mastodon" as const,
    instance,
    id: kit.newAccount.id,
    handle: `${kit.newAccount.username}@${old.domain}`,
    token: sealer.seal(kit.newAccount.token),
  };
  const moving = { ...account, target: microblog, oldHandle: oldAccount.handle };
  return { now, instance, oldAccount, account, file, microblog, mastodon, moving };
}

const BUILDERS: Builders = {
  welcome: () => ({ "": {} }),
  "old-server": () => ({ "": {} }),
  "old-sign-in": async (kit) => {
    const { instance, now } = parts(kit);
    const begun = await kit.signIn.begin(kit.user, instance);
    return {
      "": { instance, signIn: { ...begun, startedAt: now } },
      "no sign-in link": { instance, signIn: null },
    };
  },
  "old-token": (kit) => ({ "": { instance: parts(kit).instance } }),
  "old-csv": (kit) => ({ "": { instance: parts(kit).instance } }),
  exporting: (kit) => {
    const { oldAccount, now } = parts(kit);
    return { "": { old: oldAccount, jobId: randomUUID(), startedAt: now } };
  },
  "new-choose": (kit) => ({ "": parts(kit).account }),
  "new-microblog": (kit) => ({ "": parts(kit).account }),
  "new-microblog-handle": (kit) => {
    const { account, microblog } = parts(kit);
    const fields = {
      ...account,
      domain: microblog.domain,
      username: microblog.username,
      token: microblog.token,
    };
    return {
      "": { ...fields, offers: [microblog.handle, `${microblog.username}@blog.example`] },
      "no offers": { ...fields, offers: [] },
    };
  },
  "new-server": (kit) => ({ "": parts(kit).account }),
  "new-sign-in": async (kit) => {
    const { account, instance, now } = parts(kit);
    const begun = await kit.signIn.begin(kit.user, instance, "new");
    return { "": { ...account, instance, signIn: { ...begun, startedAt: now } } };
  },
  "import-preview": (kit) => {
    const { account, microblog, mastodon } = parts(kit);
    const preview = (toFollow: number, dailyLimit: number | null) => ({
      toFollow,
      already: account.follows - toFollow,
      unreachable: 1,
      unreachableServers: ["far.example"],
      dailyLimit,
    });
    return {
      "": { ...account, target: microblog, preview: preview(account.follows, null) },
      "nothing to follow": { ...account, target: microblog, preview: preview(0, null) },
      mastodon: { ...account, target: mastodon, preview: preview(account.follows, 1) },
    };
  },
  importing: (kit) => {
    const { account, microblog, now } = parts(kit);
    const base = { ...account, target: microblog, jobId: randomUUID(), startedAt: now };
    return {
      "": { ...base, after: "ask", aliasDone: false },
      "then move": { ...base, after: "move", aliasDone: false },
    };
  },
  "import-web": (kit) => {
    const { account, microblog, mastodon, now } = parts(kit);
    return {
      "": { ...account, target: microblog, sentAt: now },
      mastodon: { ...account, target: mastodon, sentAt: now },
    };
  },
  "import-done": (kit) => {
    const { account, microblog } = parts(kit);
    const report = { followed: 3, requested: 1, already: 1, notFound: 1, refused: 0, failed: 0 };
    return { "": { ...account, target: microblog, report } };
  },
  trying: (kit) => {
    const { account, microblog, now } = parts(kit);
    return { "": { ...account, target: microblog, jobId: randomUUID(), remindAt: now + 3 * DAY } };
  },
  "old-handle": (kit) => {
    const { file, microblog } = parts(kit);
    return { "": { ...file, target: microblog } };
  },
  alias: (kit) => {
    const { moving, mastodon } = parts(kit);
    return { "": moving, mastodon: { ...moving, target: mastodon } };
  },
  preflight: (kit) => ({ "": parts(kit).moving }),
  move: (kit) => {
    const { moving, now } = parts(kit);
    return {
      "": { ...moving, confirmedAt: now },
      watching: { ...moving, confirmedAt: now, pollJobId: randomUUID() },
    };
  },
  watching: (kit) => {
    const { moving, now } = parts(kit);
    const base = { ...moving, movedAt: now, watchJobId: randomUUID() };
    return { "": { ...base, quiet: false }, quiet: { ...base, quiet: true } };
  },
  finished: (kit) => {
    const { moving, now } = parts(kit);
    const result = { initial: 8, moved: 6, stayed: 2, counted: true, ended: "settled" as const };
    const base = { ...moving, movedAt: now - DAY, result: { ...result, at: now } };
    const forget = { forgetAt: now + 30 * DAY, forgetJobId: randomUUID() };
    return {
      "": { ...base, ...forget, revoked: false },
      "kept, revoked": { ...base, forgetAt: null, revoked: true },
    };
  },
  "moved-elsewhere": (kit) => ({ "": { ...parts(kit).moving, to: "@someone@else.example" } }),
};

/** The person's snapshot: their follows, and the follower count the watch starts from. */
function snapshotOf(kit: PlaceKit): Snapshot {
  return {
    ...emptySnapshot(Date.now()),
    follows: kit.person.follows.map((acct) => ({
      acct,
      reblogs: true,
      notify: false,
      languages: null,
    })),
    followers: { accts: [], count: kit.person.followers, hidden: false },
  };
}

/** The places to fuzz at `step`, each a state the schema accepts (it throws on one it doesn't). */
export async function placesFor(step: StepName, kit: PlaceKit): Promise<Place[]> {
  const variants = await (BUILDERS[step] as (kit: PlaceKit) => Promise<Variants<StepName>>)(kit);
  return Object.entries(variants).map(([variant, fields]) => ({
    label: variant ? `${step} (${variant})` : step,
    state: State.parse({ step, ...fields }),
    snapshot: snapshotOf(kit),
  }));
}
