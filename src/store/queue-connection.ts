/**
 * The Redis connection a shared job queue (BullMQ, src/jobs/bullmq-queue.ts) runs
 * on: node-redis, as the store's, which BullMQ 6 takes as it is (it wraps a client
 * with `sendCommand` and `isOpen` itself, and duplicates it for its blocking reads).
 * Opened here so that no driver is imported outside src/store.
 */
import { createClient } from "@keyv/redis";
import { reconnectOnceConnected } from "./redis-reconnect.js";

/** An open connection, for BullMQ only; close() ends it. */
export interface QueueConnection {
  /** What BullMQ's `connection` option is given. */
  readonly client: object;
  /** Resolves when Redis answers on this connection; throws at once while it is down. */
  ping(): Promise<void>;
  /**
   * Small sets of strings beside the queue, for what BullMQ keeps no index of (the
   * runs of one job). A set left empty takes no room: Redis deletes it.
   */
  readonly sets: {
    add(key: string, member: string): Promise<void>;
    remove(key: string, member: string): Promise<void>;
    members(key: string): Promise<string[]>;
    drop(key: string): Promise<void>;
  };
  close(): Promise<void>;
}

export async function openQueueConnection(url: string): Promise<QueueConnection> {
  if (!/^rediss?:\/\//i.test(url)) {
    throw new Error("QUEUE_URL must be a redis:// or rediss:// URL (BullMQ runs on Redis)");
  }
  const reconnect = reconnectOnceConnected();
  const client = createClient({ url, socket: reconnect.socket });
  // Failures reach BullMQ's calls; without a listener an "error" event would crash the process.
  client.on("error", () => {});
  await client.connect();
  reconnect.connected();
  return {
    client,
    ping: async () => {
      // Reconnecting: commands would wait in node-redis's queue; say it's down instead.
      if (!client.isReady) throw new Error("the queue's Redis is not connected");
      await client.ping();
    },
    sets: {
      add: async (key, member) => void (await client.sAdd(key, member)),
      remove: async (key, member) => void (await client.sRem(key, member)),
      members: (key) => client.sMembers(key),
      drop: async (key) => void (await client.del(key)),
    },
    close: async () => {
      if (client.isOpen) await client.close();
    },
  };
}
