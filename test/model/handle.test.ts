import { describe, expect, it } from "vitest";
import {
  bareHandle,
  canonicalHandle,
  domainOf,
  normalHandle,
  sameHandle,
  showHandle,
  splitHandle,
  withDomain,
} from "../../src/model/handle.js";

describe("handles, in one place", () => {
  it("compares the way Mastodon does: no leading @, any case, no stray spaces", () => {
    expect(normalHandle(" @Ada@Example.Social ")).toBe("ada@example.social");
    expect(sameHandle("@ada@example.social", "ADA@EXAMPLE.SOCIAL")).toBe(true);
    expect(sameHandle("ada@example.social", "ada@example.org")).toBe(false);
  });

  it("keeps a handle as written for APIs that want it bare", () => {
    expect(bareHandle(" @Ada@Example.Social")).toBe("Ada@Example.Social");
    expect(showHandle("ada@example.social")).toBe("@ada@example.social");
    expect(showHandle("@ada@example.social")).toBe("@ada@example.social");
  });

  it("puts a local account on its server's domain", () => {
    expect(withDomain("ada", "hachyderm.io")).toBe("ada@hachyderm.io");
    expect(withDomain("bob@other.example", "hachyderm.io")).toBe("bob@other.example");
    expect(domainOf("ada", "Hachyderm.io")).toBe("hachyderm.io");
    expect(domainOf("bob@Other.Example")).toBe("other.example");
  });

  it("splits and checks, or says what is wrong", () => {
    expect(splitHandle("@ada@Example.Social")).toEqual({ user: "ada", host: "example.social" });
    expect(canonicalHandle("https://example.social/@ada")).toBe("ada@example.social");
    expect(() => splitHandle("ada")).toThrow(/has no server/);
    expect(() => splitHandle("example.social")).toThrow(/is a server, not an account/);
  });
});
