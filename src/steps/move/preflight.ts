/**
 * The checks before the Move, each with its own verdict, then the one
 * confirmation that says what cannot be undone, with the real numbers. The
 * checks run again every time this step is shown, so a fix is seen at once.
 * Once confirmed, the bot looks for the Move by itself (the move-poll job).
 */
import { randomUUID } from "node:crypto";
import { type Reply, say } from "../../chat/conversation.js";
import { n, type Text } from "../../chat/text.js";
import { checkAlias, describeAlias, describeMove } from "../../clients/alias-check.js";
import { domainOf, splitHandle } from "../../model/handle.js";
import type { StateOf } from "../../model/state.js";
import {
  handles,
  movingOf,
  oldAccountMoved,
  oldOrigin,
  uncheckedAlias,
  uncheckedMove,
  WATCH_FOR_MOVE_MS,
} from "../lib/moving.js";
import type { Step, StepContext } from "../step.js";

/**
 * A check's mark: passed, a warning that doesn't block, a failure that does, or plain information.
 * `unseen`: the Move can't be seen from here at all, so no poll could see it either.
 */
type Check = { ok: boolean | "warn" | "info"; text: string; unseen?: true };
const DAY = 24 * 60 * 60_000;

/**
 * Only what the new server can answer: is the account there and reachable, does
 * it list the old one as an alias, does it take followers without approval. Its
 * software is not asked: NodeInfo has no "supports Move" field (its `metadata`
 * is free-form, and Mastodon's is empty), and whether followers move depends on
 * *their* servers' software, which the final report names server by server.
 */
export async function preflightChecks(
  state: StateOf<"preflight">,
  ctx: StepContext,
): Promise<Check[]> {
  const h = handles(state);
  const checks: Check[] = [];
  const [alias, moved] = await Promise.all([
    checkAlias(ctx.world.fediverse, h),
    oldAccountMoved(state, ctx),
  ]);
  if (alias.kind === "unchecked") {
    checks.push({ ok: "warn", text: uncheckedAlias(state, ctx) });
    checks.push({
      ok: "warn",
      text: `Nor can I see whether @${h.newHandle} approves followers by hand: if it does, switch that off until the move is over, or your moved followers pile up as follow requests.`,
    });
  } else checks.push({ ok: alias.kind === "ok", text: describeAlias(alias, h) });
  if (alias.kind === "ok") {
    checks.push({
      ok: "warn",
      text: `Your old server may remember @${h.newHandle} as it was for up to a day. If its move form says "not an alias of this account", wait an hour and submit it again.`,
    });
    const locked = alias.newActor.manuallyApprovesFollowers;
    checks.push({
      ok: !locked,
      text: locked
        ? `@${h.newHandle} approves followers by hand: your moved followers would pile up as follow requests. Switch that off until the move is over.`
        : `@${h.newHandle} accepts followers without approval.`,
    });
  }
  // AccountMigration refuses only a move to the account itself (move_to_self), and MoveWorker
  // moves local followers of a local target directly (app/models/account_migration.rb,
  // app/workers/move_worker.rb): a move within one server is allowed, if rarely meant.
  const same = domainOf(h.oldHandle) === domainOf(h.newHandle);
  checks.push({
    ok: same ? "warn" : true,
    text: same
      ? `Both accounts are on ${domainOf(h.newHandle)}. Mastodon allows a move within one server; check that @${h.newHandle} is the account you mean.`
      : "The accounts are on different servers.",
  });
  if (moved.kind === "unchecked") {
    // Not a dead end: the move page itself refuses an account that has moved in the last 30 days.
    checks.push({
      ok: "warn",
      unseen: true,
      text: `I couldn't check whether @${h.oldHandle} has moved before: ${uncheckedMove(moved, ctx)}. If it has moved in the last 30 days, the move page will say so.`,
    });
  } else {
    checks.push({
      ok: moved.kind === "not-yet",
      text:
        moved.kind === "not-yet" ? `@${h.oldHandle} hasn't moved before.` : describeMove(moved, h),
    });
  }
  const age = ctx.now() - state.snapshotAt;
  checks.push({
    ok: age < DAY ? true : "warn",
    text:
      age < DAY
        ? "Your saved follows and followers are from today."
        : `Your saved follows are from ${new Date(state.snapshotAt).toUTCString().slice(0, 16)}; anything newer isn't in the files.`,
  });
  checks.push({
    ok: "info",
    text: "Whether each follower comes along depends on their own server's software, not on the new one; after the move I'll tell you, server by server, who stayed and why.",
  });
  return checks;
}

/**
 * The watcher counts moved followers against the count before the Move. A user
 * who uploaded a file has no snapshot of followers, so read the public count now.
 */
async function rememberFollowerCount(state: StateOf<"preflight">, ctx: StepContext): Promise<void> {
  const snapshot = await ctx.snapshots.get(ctx.user);
  if (!snapshot || snapshot.followers.count > 0) return;
  try {
    const account = await ctx.world
      .mastodon(oldOrigin(state), "")
      .lookup(splitHandle(state.oldHandle).user);
    const count = account.followers_count;
    // No count (or a hidden one) is unknown: the watcher starts from its first count instead.
    if (count === undefined || count < 0) return;
    await ctx.snapshots.set(ctx.user, { ...snapshot, followers: { ...snapshot.followers, count } });
  } catch {
    // Without it the watcher starts from its first count; nothing else depends on it.
  }
}

const mark = (c: Check) =>
  c.ok === true ? "✅" : c.ok === false ? "❌" : c.ok === "warn" ? "⚠️" : "ℹ️";

export const preflight: Step<"preflight"> = {
  name: "preflight",
  async enter(state, ctx): Promise<Reply[]> {
    const checks = await preflightChecks(state, ctx);
    const blocked = checks.some((c) => c.ok === false);
    const list: Text = [checks.map((c) => `${mark(c)} ${c.text}`).join("\n")];
    if (blocked) {
      return [
        say(["Before the move, this needs fixing:\n", ...list], {
          choices: [{ id: "again", label: "Check again" }],
        }),
      ];
    }
    const followers = (await ctx.snapshots.get(ctx.user))?.followers.count;
    const who = followers ? `${n(followers)} followers` : "Your followers";
    const oldHost = splitHandle(state.oldHandle).host;
    return [
      say(["Before the move — all clear:\n", ...list]),
      say(
        [
          `This can't be undone, and you can't move again for 30 days. ${who} will be asked to follow @${state.target.handle}; your posts stay on ${oldHost}.`,
        ],
        {
          choices: [
            { id: "move", label: "I understand — move" },
            { id: "later", label: "Not yet" },
          ],
        },
      ),
    ];
  },
  async handle(state, input, ctx) {
    if (input.kind === "choice" && input.id === "move") {
      // Confirmed against checks that may be minutes old: run them once more.
      const checks = await preflightChecks(state, ctx);
      if (checks.some((c) => c.ok === false))
        return { state, replies: await preflight.enter(state, ctx) };
      await rememberFollowerCount(state, ctx);
      // Where nothing public shows the Move, no poll can see it: the move step then asks to be
      // told ("I've moved"), and takes the move page's word for it.
      if (checks.some((c) => c.unseen)) {
        return { state: { step: "move", ...movingOf(state), confirmedAt: ctx.now() }, replies: [] };
      }
      // The bot watches for the Move itself from now on: nobody needs to say they've moved.
      const pollJobId = randomUUID();
      return {
        state: { step: "move", ...movingOf(state), confirmedAt: ctx.now(), pollJobId },
        replies: [],
        jobs: [
          { kind: "move-poll", id: pollJobId, data: { until: ctx.now() + WATCH_FOR_MOVE_MS } },
        ],
      };
    }
    if (input.kind === "choice" && input.id === "later") {
      return {
        state,
        replies: [
          say(["Fine — nothing has changed. Tap Check again or /start when you're ready."], {
            choices: [{ id: "again", label: "Check again" }],
          }),
        ],
      };
    }
    return { state, replies: await preflight.enter(state, ctx) };
  },
};
