/**
 * The account migration of the Mastodon stand-in, as the web settings do it
 * (AccountMigration + MoveService): validation with Mastodon's messages, `moved` set at once,
 * local followers moved at once (MoveWorker), remote followers leaving tick by tick on the
 * sandbox clock (or by transferNow), stragglers never.
 */

import { z } from "zod";
import { Acct, type Federation, ValidationError } from "./mastodon-federation.js";
import type { AccountRow, FollowRow } from "./mastodon-rows.js";
import type { Store } from "./mastodon-store.js";

export interface LeavingFollower {
  acct: string;
  showReblogs: boolean;
  notify: boolean;
  languages: string[] | null;
}

export interface TransferOptions {
  /** Followers that leave the old account per tick. */
  perTick: number;
  /** Sandbox-clock ms between ticks; the first tick is tickMs after the move. */
  tickMs: number;
  /** Follower domains whose servers never process the Move: those followers stay. */
  stragglers?: string[];
  /** Called (in-process only) for each follower as it leaves, e.g. to follow the new account elsewhere. */
  onLeave?: (follower: LeavingFollower) => void;
}

export interface PerformMoveOptions {
  /** When the migration is submitted (sandbox-clock ms). Default: now. */
  at?: number;
  /** Remote followers leave tick by tick. Without it they only leave through transferNow(). */
  transfer?: TransferOptions;
}

export interface MigrationRecord {
  /** The acct as submitted (leading @ stripped). */
  acct: string;
  targetAccountId: string;
  /** Sandbox-clock ms. */
  at: number;
  /** Account#followers_count at submit time. */
  followersCount: number;
}

export const TransferSchema = z.object({
  perTick: z.number().int().min(1),
  tickMs: z.number().int().positive(),
  stragglers: z.array(z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i)).optional(),
});
const PerformMoveSchema = z.object({
  at: z.number().int().min(0).optional(),
  transfer: TransferSchema.optional(),
});

const COOLDOWN_MS = 30 * 24 * 60 * 60 * 1000;

interface Transfer {
  start: number;
  perTick: number;
  tickMs: number;
  stragglers: Set<string>;
  /** Followers removed by ticks so far. */
  ticked: number;
  /** Nobody left to leave (the straggler domains are kept for transferNow). */
  finished: boolean;
  onLeave?: (follower: LeavingFollower) => void;
}

export class Migrations {
  private readonly migrations = new Map<string, MigrationRecord[]>();
  private readonly transfers = new Map<string, Transfer>();

  constructor(
    private readonly store: Store,
    /** Resolves the target afresh, as AccountMigration does. */
    private readonly fed: Federation,
    private readonly clock: () => number,
  ) {}

  migrationsOf(username: string): MigrationRecord[] {
    return [...(this.migrations.get(this.store.local(username).id) ?? [])];
  }

  /**
   * Settings → Moving to a different account, submitted: AccountMigration's validations on a
   * freshly fetched target (skip_cache), then MoveService. Throws ValidationError with
   * Mastodon's messages (all that apply, cooldown first): "You are on cooldown",
   * "Acct could not be found", "Acct is not an alias of this account",
   * "Acct is the same account you have already moved to", "Acct cannot be current account".
   */
  async performMove(
    username: string,
    targetAcct: string,
    opts: PerformMoveOptions = {},
  ): Promise<AccountRow> {
    const source = this.store.local(username);
    const acct = Acct.parse(targetAcct).replace(/^@/, "");
    const { onLeave, ...rest } = opts.transfer ?? {};
    const o = PerformMoveSchema.parse({ ...opts, transfer: opts.transfer ? rest : undefined });
    const now = o.at ?? this.clock();

    const errors: ValidationError["errors"] = [];
    const past = this.migrations.get(source.id) ?? [];
    if (past.some((m) => m.at >= now - COOLDOWN_MS)) {
      errors.push({ attribute: "base", type: "on_cooldown", message: "You are on cooldown" });
    }
    const target = await this.fed.resolveAccount(acct, { skipCache: true });
    if (target === null) {
      errors.push({ attribute: "acct", type: "not_found", message: "Acct could not be found" });
    } else {
      if (!target.alsoKnownAs.includes(this.store.uriOf(source))) {
        errors.push({
          attribute: "acct",
          type: "missing_also_known_as",
          message: "Acct is not an alias of this account",
        });
      }
      if (source.movedToAccountId !== null && source.movedToAccountId === target.id) {
        errors.push({
          attribute: "acct",
          type: "already_moved",
          message: "Acct is the same account you have already moved to",
        });
      }
      if (source.id === target.id) {
        errors.push({
          attribute: "acct",
          type: "move_to_self",
          message: "Acct cannot be current account",
        });
      }
    }
    if (errors.length > 0 || target === null) throw new ValidationError(errors);

    past.push({
      acct,
      targetAccountId: target.id,
      at: now,
      followersCount: source.followers.length,
    });
    this.migrations.set(source.id, past);
    // MoveService#update_redirect!
    source.movedToAccountId = target.id;
    // MoveWorker: local followers follow the target (a request when it is remote or locked)
    // and unfollow the source, unless FollowService refuses (the error is swallowed).
    for (const f of [...source.followers]) {
      const follower = this.store.accounts.get(f.accountId);
      if (!follower || follower.domain !== null || follower.id === target.id) continue;
      if (this.followNotAllowed(follower, target)) continue;
      this.store.follow(follower, target, {
        showReblogs: f.showReblogs,
        notify: f.notify,
        languages: f.languages,
        pending: target.domain !== null || target.locked,
      });
      this.store.unfollow(follower, source);
    }
    if (o.transfer) {
      this.transfers.set(source.id, {
        start: now,
        perTick: o.transfer.perTick,
        tickMs: o.transfer.tickMs,
        stragglers: new Set((o.transfer.stragglers ?? []).map((d) => d.toLowerCase())),
        ticked: 0,
        finished: false,
        ...(onLeave ? { onLeave } : {}),
      });
    } else {
      this.transfers.delete(source.id);
    }
    return source;
  }

  private followNotAllowed(follower: AccountRow, target: AccountRow): boolean {
    return (
      target.movedToAccountId !== null ||
      this.store.blockOf(target, follower) !== undefined ||
      this.store.blockOf(follower, target) !== undefined ||
      this.store.domainBlocking(follower, target)
    );
  }

  /** Remote followers that will still leave (not on a straggler domain), oldest follow first. */
  private movable(source: AccountRow, stragglers: ReadonlySet<string>): FollowRow[] {
    return source.followers.filter((f) => {
      const a = this.store.accounts.get(f.accountId);
      return a !== undefined && a.domain !== null && !stragglers.has(a.domain);
    });
  }

  /** An Undo Follow from a follower whose server processed the Move. */
  private leave(source: AccountRow, f: FollowRow, onLeave?: TransferOptions["onLeave"]): void {
    const follower = this.store.accounts.get(f.accountId)!;
    this.store.unfollow(follower, source);
    onLeave?.({
      acct: this.store.acctOf(follower),
      showReblogs: f.showReblogs,
      notify: f.notify,
      languages: f.languages,
    });
  }

  /** Lets the ticks that are due happen (called before every request and in-process read). */
  settle(now = this.clock()): void {
    for (const [accountId, t] of this.transfers) {
      if (t.finished) continue;
      const source = this.store.accounts.get(accountId);
      if (!source) {
        this.transfers.delete(accountId);
        continue;
      }
      const ticks = Math.max(0, Math.floor((now - t.start) / t.tickMs));
      let due = ticks * t.perTick - t.ticked;
      if (due <= 0) continue;
      const queue = this.movable(source, t.stragglers);
      for (const f of queue) {
        if (due <= 0) break;
        this.leave(source, f, t.onLeave);
        t.ticked += 1;
        due -= 1;
      }
      if (this.movable(source, t.stragglers).length === 0) t.finished = true;
    }
  }

  /**
   * n remote followers of a moved account leave now (oldest follow first; straggler domains of
   * a running transfer stay). Returns how many left.
   */
  transferNow(username: string, n: number): number {
    const source = this.store.local(username);
    if (source.movedToAccountId === null) throw new Error(`${username} has not moved`);
    const count = z.number().int().min(0).parse(n);
    this.settle();
    const t = this.transfers.get(source.id);
    const queue = this.movable(source, t?.stragglers ?? new Set()).slice(0, count);
    for (const f of queue) this.leave(source, f, t?.onLeave);
    return queue.length;
  }

  /** The accts still following the account, oldest follow first. */
  followersOf(username: string): string[] {
    this.settle();
    return this.store
      .local(username)
      .followers.map((f) => this.store.acctOf(this.store.accounts.get(f.accountId)!));
  }
}
