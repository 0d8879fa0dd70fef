/**
 * Who each person is to the channel, kept between messages and restarts: their acct (to
 * mention them), their latest message (a report from a job replies to it), and the numbered
 * options they were last shown, with the state stamp those options belong to.
 */
import { z } from "zod";
import type { UserKey } from "../../chat/conversation.js";
import { collection } from "../../store/collection.js";
import type { KeyValue, Store } from "../../store/store.js";

const Person = z.object({
  acct: z.string(),
  lastStatusId: z.string().nullable(),
  shown: z
    .object({ seq: z.number(), list: z.array(z.object({ id: z.string(), label: z.string() })) })
    .nullable(),
});
export type Person = z.infer<typeof Person>;

export class People {
  private readonly kv: KeyValue<Person>;
  constructor(store: Store) {
    this.kv = collection(store, "mastodon-dm-people", Person);
  }
  get(user: UserKey): Promise<Person | undefined> {
    return this.kv.get(user);
  }
  set(user: UserKey, person: Person): Promise<void> {
    return this.kv.set(user, person);
  }
  async update(user: UserKey, patch: Partial<Person>, fallback: Person): Promise<void> {
    const before = (await this.kv.get(user)) ?? fallback;
    await this.kv.set(user, { ...before, ...patch });
  }
  async forget(user: UserKey): Promise<void> {
    await this.kv.delete(user);
  }
}
