import { describe, expect, it } from "vitest";
import { b, code, html, link, plain } from "../../src/chat/text.js";

describe("text", () => {
  it("escapes every user- or server-supplied string in Telegram HTML", () => {
    const evil = `<script>alert("x")</script> & <b>`;
    expect(
      html(["Hi ", b(evil), " ", code(evil), " ", link(evil, `https://x.example/?a=1&b="2"`)]),
    ).toBe(
      "Hi <b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;</b> " +
        "<code>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;</code> " +
        `<a href="https://x.example/?a=1&amp;b=&quot;2&quot;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;</a>`,
    );
  });

  it("renders plain text with link addresses for terminals", () => {
    expect(
      plain([
        "Open ",
        link("the page", "https://a.example/x"),
        " and type ",
        code("@ada@a.example"),
      ]),
    ).toBe("Open the page (https://a.example/x) and type @ada@a.example");
  });
});
