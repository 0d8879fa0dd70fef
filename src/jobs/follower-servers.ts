/**
 * What the followers' servers run, for the finished message's likely reason why some stayed
 * ("Pleroma 2.4 is older than 2.5…", "server not answering"). Every watch in the process
 * asks through one of these: a server is asked its NodeInfo once, and the answer (or its
 * silence) is kept for a while, so a thousand watches ending with followers on one server
 * ask it once, not a thousand times; a server that doesn't answer costs a few seconds once,
 * not Http's full timeout and retries at every end; and only a few are asked at a time.
 */
import { moveSupport } from "../clients/fediverse.js";
import type { World } from "../clients/world.js";
import type { StayedReason } from "../model/jobs.js";
import { type AtMost, atMost } from "../net/at-most.js";

export interface FollowerServersOptions {
  /** How long an answer is kept: software changes with an upgrade, rarely within a day. */
  answeredTtlMs: number;
  /** How long silence is kept: a server down now may be back within the hour. */
  silentTtlMs: number;
  /** The most one server's NodeInfo may take, retries included, before it counts as not answering. */
  timeoutMs: number;
  /** Servers asked at once. */
  concurrency: number;
  /** Servers remembered; past it the oldest answer goes. */
  maxHosts: number;
}

export const FOLLOWER_SERVERS: FollowerServersOptions = {
  answeredTtlMs: 24 * 3_600_000,
  silentTtlMs: 3_600_000,
  timeoutMs: 10_000,
  concurrency: 4,
  maxHosts: 10_000,
};

type Known = { kind: "software"; name: string; version: string } | { kind: "not-answering" };

export class FollowerServers {
  private readonly o: FollowerServersOptions;
  private readonly known = new Map<string, { until: number; answer: Promise<Known> }>();
  private readonly asking: AtMost;

  constructor(
    private readonly world: World,
    options: Partial<FollowerServersOptions> = {},
  ) {
    this.o = { ...FOLLOWER_SERVERS, ...options };
    this.asking = atMost(this.o.concurrency);
  }

  /** The likely reason followers on `host` stayed: the old server's own, or what `host` runs. */
  async reason(host: string, oldDomain: string): Promise<StayedReason> {
    if (host === oldDomain) return { kind: "old-server" };
    const known = await this.software(host);
    if (known.kind === "not-answering") return known;
    const { support, note } = moveSupport(known.name, known.version);
    return { kind: "software", name: known.name, support, note };
  }

  private software(host: string): Promise<Known> {
    const now = Date.now();
    const kept = this.known.get(host);
    if (kept && kept.until > now) return kept.answer;
    this.known.delete(host);
    if (this.known.size >= this.o.maxHosts) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    // Asked once while it is being asked: everyone waiting on it shares the one answer.
    const entry = { until: Number.POSITIVE_INFINITY, answer: this.ask(host) };
    this.known.set(host, entry);
    void entry.answer.then((k) => {
      entry.until =
        Date.now() + (k.kind === "software" ? this.o.answeredTtlMs : this.o.silentTtlMs);
    });
    return entry.answer;
  }

  private ask(host: string): Promise<Known> {
    return this.asking(async () => {
      try {
        const info = await this.world.fediverse.nodeinfo(host, {
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        return { kind: "software", name: info.software.name, version: info.software.version };
      } catch {
        return { kind: "not-answering" };
      }
    });
  }
}
