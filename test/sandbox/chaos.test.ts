/**
 * Random faults in the stand-ins (chaos.ts): each kind as a client sees it, the same
 * seed giving the same faults, and micro.blog counting a follow asked for twice.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CHAOS_KINDS, Chaos } from "../../sandbox/chaos.js";
import { type MastodonSandbox, startMastodonSandbox } from "../../sandbox/mastodon.js";
import { type MicroblogSandbox, startMicroblogSandbox } from "../../sandbox/microblog.js";
import { startTelegramSandbox, type TelegramSandbox } from "../../sandbox/telegram.js";

let masto: MastodonSandbox | undefined;
let mb: MicroblogSandbox | undefined;
let tg: TelegramSandbox | undefined;
afterEach(async () => {
  await masto?.close();
  await mb?.close();
  await tg?.close();
  masto = mb = tg = undefined;
});

/** What a client makes of one answer: its status and body, or the error it got. */
async function outcome(url: string, init?: RequestInit) {
  try {
    const res = await fetch(url, init);
    const text = await res.text();
    let json = true;
    try {
      JSON.parse(text);
    } catch {
      json = false;
    }
    return { status: res.status, json, link: res.headers.get("link") };
  } catch (err) {
    return { error: String((err as Error).cause ?? err) };
  }
}

describe("chaos in the stand-ins", () => {
  it("gives each kind as a real server or proxy would, and counts them", async () => {
    masto = await startMastodonSandbox({ rateLimit: null });
    const seen: Record<string, unknown> = {};
    for (const kind of CHAOS_KINDS) {
      masto.setChaos({ rate: 1, seed: 1, kinds: [kind], hangMs: 50, slowMs: 20 });
      seen[kind] = await outcome(`${masto.url}/api/v1/instance`);
      expect(masto.chaosInjected?.[kind]).toBe(1);
    }
    expect(seen.status5xx).toMatchObject({ status: expect.any(Number), json: false });
    expect((seen.status5xx as { status: number }).status).toBeGreaterThanOrEqual(500);
    expect(seen.timeout).toMatchObject({
      error: expect.stringMatching(/other side closed|terminated|reset/i),
    });
    expect(seen.reset).toMatchObject({ error: expect.stringMatching(/other side closed|reset/i) });
    expect(seen.slow).toMatchObject({ status: 200, json: true });
    expect(seen.malformedJson).toMatchObject({ status: 200, json: false });
    expect(seen.brokenLink).toMatchObject({
      status: 200,
      json: true,
      link: expect.stringContaining("[broken"),
    });
    expect(seen.truncated).toMatchObject({
      error: expect.stringMatching(/terminated|other side closed/i),
    });
    masto.setChaos(null);
    expect(await outcome(`${masto.url}/api/v1/instance`)).toMatchObject({
      status: 200,
      json: true,
    });
  });

  it("gives the same faults for the same seed, at about the rate asked", () => {
    const run = (seed: number) => {
      const chaos = new Chaos({ rate: 0.1, seed });
      return Array.from({ length: 2000 }, () => chaos.pick("/api"));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    const faults = run(7).filter((k) => k !== null).length;
    expect(faults).toBeGreaterThan(150);
    expect(faults).toBeLessThan(250);
  });

  it("counts micro.blog follow requests per pair, a follow asked twice included", async () => {
    mb = await startMicroblogSandbox({ rateLimit: null });
    const token = mb.addUser("ada");
    mb.addRemote("bob@far.example", { exists: true });
    const follow = () =>
      fetch(`${mb!.url}/users/follow`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
        body: new URLSearchParams({ username: "bob@far.example" }),
      });
    await follow();
    expect(mb.followRequestsOf("ada")).toEqual({ "bob@far.example": 1 });
    await follow();
    expect(mb.followRequestsOf("ada")).toEqual({ "bob@far.example": 2 });
    expect(mb.followingOf("ada")).toEqual(["bob@far.example"]);
  });

  it("spoils Bot API answers too, per method", async () => {
    tg = await startTelegramSandbox();
    tg.setChaos({ rate: 1, seed: 3, kinds: ["malformedJson"], paths: ["/getMe"] });
    const getMe = () => outcome(`${tg!.url}/bot${tg!.token}/getMe`);
    expect(await getMe()).toMatchObject({ status: 200, json: false });
    expect(tg.chaosInjected?.malformedJson).toBe(1);
    expect(await outcome(`${tg.url}/bot${tg.token}/getMyCommands`)).toMatchObject({ json: true });
  });
});
