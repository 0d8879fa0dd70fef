/**
 * The DM intake in exactly one process: two real bot processes on one Redis, the bot account
 * read by the lease's holder alone; the holder SIGKILLed, the other takes the intake over
 * within 30 s (the default lease, 15 s), from the last handled notification, and answers what
 * came meanwhile once.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { startMastodonSandbox } from "../../sandbox/mastodon.js";
import { BOT_SCOPES, botSaid, plainOf } from "../channels/dm-helpers.js";
import { type Bot, endedAfterEach, startBot, until } from "./bots.js";
import type { Proc } from "./process.js";

const { killing, closing } = endedAfterEach();

describe("the DM intake with two processes", () => {
  it("runs in the lease's holder only; after a SIGKILL the other takes over and loses nothing", async () => {
    const sb = closing(await startMastodonSandbox({ domain: "bots.example", rateLimit: null }));
    sb.addAccount({ username: "movebot" });
    sb.addAccount({ username: "ada" });
    const token = sb.issueToken("movebot", BOT_SCOPES);
    const secret = randomBytes(24).toString("base64url");
    const start = async () =>
      killing(
        await startBot({
          MASTODON_BOT_URL: sb.url,
          MASTODON_BOT_TOKEN: token,
          STORE_URL: "redis://127.0.0.1:6379",
          FEDIMOVE_SECRET: secret,
          LOG_LEVEL: "info",
          HTTP_TIMEOUT_MS: "5000",
          MASTODON_POLL_MS: "300",
          SANDBOX_ORIGINS: JSON.stringify({ "bots.example": sb.url }),
        }),
      );
    const bots = [await start(), await start()];
    const listening = (p: Proc) => p.stderr().includes("mastodon-dm: listening");
    let holder: Bot[] = [];
    await until(
      "a process listening for DMs",
      () => {
        holder = bots.filter(listening);
        return holder.length >= 1;
      },
      { ms: 30_000, bots },
    );
    expect(holder).toHaveLength(1);
    await until("one stream connection", () => sb.streamConnections() === 1, {
      ms: 20_000,
      bots,
    });
    const survivor = bots.find((b) => b !== holder[0])!;

    const send = (text: string) => {
      const last = botSaid(sb, "ada").at(-1)?.id;
      return sb.postAs("ada", `@movebot ${text}`, {
        visibility: "direct",
        ...(last ? { inReplyToId: last } : {}),
      }).id;
    };
    const answersTo = (id: string) => botSaid(sb, "ada").filter((s) => s.in_reply_to_id === id);
    const hello = send("hello");
    await until("an answer to hello", () => answersTo(hello).length >= 1, { ms: 20_000, bots });

    holder[0]!.child.kill("SIGKILL");
    await holder[0]!.exited;
    const killedAt = Date.now();
    const meanwhile = [send("/help"), send("/status")];
    await until("the survivor listening for DMs", () => listening(survivor), {
      ms: 30_000,
      bots,
    });
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    await until(
      "an answer to each message sent meanwhile",
      () => meanwhile.every((id) => answersTo(id).length >= 1),
      { ms: 30_000, bots },
    );
    // A moment for anything answered twice to show.
    await new Promise((r) => setTimeout(r, 1500));
    // The message answered before the kill is not answered again (its turn, saved but maybe
    // not acknowledged, is taken from the outbox in reply to it, under the same Idempotency-Keys),
    // and the messages sent while no process held the intake are answered once each.
    expect([hello, ...meanwhile].map((id) => answersTo(id).length)).toEqual([1, 1, 1]);
    expect(plainOf(answersTo(meanwhile[0]!)[0]!.content)).toMatch(/Commands/);
    expect(BigInt(answersTo(meanwhile[0]!)[0]!.id)).toBeLessThan(
      BigInt(answersTo(meanwhile[1]!)[0]!.id),
    );
    expect(sb.streamConnections()).toBe(1);
  }, 120_000);
});
