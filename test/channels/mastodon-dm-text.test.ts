/**
 * The DM channel's text handling: a status's HTML as the person wrote it, Mastodon's count and
 * a long answer cut to fit, what a person's words mean as input, and what is refused as a token.
 */
import { describe, expect, it } from "vitest";
import { countableLength } from "../../sandbox/mastodon-status-text.js";
import { toInput } from "../../src/channels/mastodon-dm/input.js";
import { countLength, splitToFit } from "../../src/channels/mastodon-dm/length.js";
import { quietMentions } from "../../src/channels/mastodon-dm/render.js";
import { statusText } from "../../src/channels/mastodon-dm/status-text.js";
import { credentialIn } from "../../src/chat/credentials.js";

const rules = { maxCharacters: 500, charactersPerUrl: 23 };

describe("a status's HTML as text", () => {
  it("drops the bot's mention, keeps links whole, paragraphs and entities", () => {
    const html =
      '<p><span class="h-card" translate="no"><a href="https://bots.example/@movebot" class="u-url mention">@<span>movebot</span></a></span> my server is <a href="https://hachyderm.io/about/more/and/more/and/more" target="_blank"><span class="invisible">https://</span><span class="ellipsis">hachyderm.io/about/more/and/mo</span><span class="invisible">re/and/more</span></a></p><p>thanks &amp; bye<br />ada</p>';
    expect(statusText(html, ["https://bots.example/@movebot"])).toBe(
      "my server is https://hachyderm.io/about/more/and/more/and/more\n\nthanks & bye\nada",
    );
  });
});

describe("length", () => {
  it("counts as Mastodon does: URLs as 23, mentions without their domain, graphemes", () => {
    const text = `@ada@far.example see https://example.com/${"x".repeat(80)} 👩‍👩‍👧 ok`;
    expect(countLength(text, rules)).toBe(countableLength(text));
    expect(countLength(text, rules)).toBe(4 + 5 + 23 + 1 + 1 + 3);
  });

  it("cuts a 2,000-character answer into numbered parts that each fit", () => {
    const words = Array.from({ length: 400 }, (_, k) => `word${k}`).join(" ");
    const text = `${words.slice(0, 1000)}\n\nhttps://example.com/${"y".repeat(300)}\n\n${words.slice(1000, 2000)}`;
    const prefix = "@ada@far.example ";
    const parts = splitToFit(text, prefix, rules);
    expect(parts.length).toBeGreaterThan(3);
    for (const [k, p] of parts.entries()) {
      expect(countableLength(prefix + p)).toBeLessThanOrEqual(500);
      expect(p.endsWith(`(${k + 1}/${parts.length})`)).toBe(true);
    }
    expect(parts.join(" ")).toContain(`https://example.com/${"y".repeat(300)}`);
  });

  it("keeps handles in our text from becoming mentions", () => {
    expect(quietMentions("moved to @ada@mb.example, mail ada@x.org")).toBe(
      "moved to @\u200Bada@mb.example, mail ada@x.org",
    );
  });
});

describe("input", () => {
  const shown = {
    seq: 7,
    list: [
      { id: "go", label: "Let's go" },
      { id: "changes", label: "What changes exactly?" },
    ],
  };
  it("takes commands as words and slashes, options by number and words", () => {
    expect(toInput("status", shown)).toEqual({ kind: "command", name: "status", args: "" });
    expect(toInput("/back", shown)).toEqual({ kind: "command", name: "back", args: "" });
    expect(toInput("2", shown)).toEqual({ kind: "choice", id: "changes", seq: 7 });
    expect(toInput("let's go!", shown)).toEqual({ kind: "choice", id: "go", seq: 7 });
    expect(toInput("back in a minute", shown)).toEqual({ kind: "text", text: "back in a minute" });
    expect(toInput("/nope", shown)).toEqual({ kind: "other", what: "/nope" });
    expect(toInput("3", shown)).toEqual({ kind: "text", text: "3" });
  });
});

describe("credentials", () => {
  it("knows a token in a sentence and a micro.blog app token, and lets a bare code through", () => {
    const token = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    expect(credentialIn(`my token is ${token}`)).toBe("mastodon");
    expect(credentialIn(`Bearer ${token}`)).toBe("mastodon");
    expect(credentialIn("8F3A2B1C9D0E7F6A5B4C3D2E1F0A9B8C")).toBe("microblog");
    expect(credentialIn(token)).toBeNull();
    expect(credentialIn("hachyderm.io")).toBeNull();
  });
});
