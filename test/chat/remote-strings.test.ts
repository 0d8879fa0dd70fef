import { describe, expect, it } from "vitest";
import { b, elide, html, link, plain, REMOTE_MAX } from "../../src/chat/text.js";
import { RejectedError } from "../../src/net/errors.js";
import { explainRemote } from "../../src/steps/lib/explain.js";

describe("strings from elsewhere in messages", () => {
  it("elide keeps both ends, within the cap, whole code points", () => {
    const long = `start-${"😀".repeat(3000)}-end`;
    const shown = elide(long, 21);
    expect([...shown]).toHaveLength(21);
    expect(shown.startsWith("start-")).toBe(true);
    expect(shown.endsWith("-end")).toBe(true);
    expect(shown).toContain("…");
    expect(shown).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(elide("short.example")).toBe("short.example");
  });

  it("a 5,000-character name in any part of a message is shortened; the link's address isn't", () => {
    const domain = `${"x".repeat(5000)}.example`;
    const href = `https://a.example/${"p".repeat(300)}`;
    const text = ["Signed in as ", b(`@ada@${domain}`), ". ", link(domain, href), ` ${domain}`];
    const shown = plain(text);
    expect(shown.length).toBeLessThan(3 * REMOTE_MAX + href.length + 40);
    expect(shown).toContain(href);
    expect(html(text)).toContain(`href="${href}"`);
    expect(html(text).length).toBeLessThan(4096);
  });

  it("a server's 5,000-character error text is cut to a sentence's length", () => {
    const err = new RejectedError(
      "refused",
      "a.example",
      422,
      `Validation failed: ${"no ".repeat(1700)}`,
    );
    const said = explainRemote(err, `${"h".repeat(5000)}.example`);
    expect(said.length).toBeLessThan(500);
    expect(said).toMatch(/^h+…h+\.example said no: Validation failed: no no /);
  });
});
