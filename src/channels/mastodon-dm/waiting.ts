/**
 * People whose replies wait in the engine's outbox for the process holding the DM intake:
 * a job's report made in another process (BullMQ hands a job to any process; a sign-in
 * returns to whichever process the load balancer picked). That process can't post them
 * itself (the person's inbox, with the order of their answers and what went out, is the
 * holder's alone), so it notes the person here and the holder, looking every moment,
 * delivers their outbox at once instead of at its next sweep (30 s).
 *
 * A scored set in the store, so it works on every backend and outlives a holder that
 * dies: its successor finds the people noted. Each person is one member, however often noted.
 */
import type { UserKey } from "../../chat/conversation.js";
import type { ScoredSets, Store } from "../../store/store.js";

export class WaitingForHolder {
  private readonly sets: ScoredSets;

  constructor(
    store: Store,
    private readonly key: string,
  ) {
    this.sets = store.scored("mastodon-dm-waiting");
  }

  /** Asks the holder to deliver this person's outbox now. */
  async ask(user: UserKey): Promise<void> {
    await this.sets.put(this.key, user, Date.now());
  }

  /**
   * The people noted, taken off the set: one noted again meanwhile is noted anew, and
   * delivered again (harmless: an outbox delivered is empty).
   */
  async take(): Promise<UserKey[]> {
    const users = (await this.sets.upTo(this.key, Number.POSITIVE_INFINITY)) as UserKey[];
    for (const user of users) await this.sets.remove(this.key, user);
    return users;
  }
}
