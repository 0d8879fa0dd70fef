/**
 * The sign-in client on its own: which scopes each Mastodon version is asked for.
 */
import { describe, expect, it } from "vitest";
import { atLeast, serverHas } from "../../src/clients/mastodon-versions.js";
import { READ_SCOPES, scopesFor } from "../../src/clients/sign-in.js";

describe("scopesFor", () => {
  it("asks each version only for scopes it has", () => {
    expect(scopesFor("4.3.2")).toBe(READ_SCOPES);
    expect(scopesFor("3.1.0")).toBe(READ_SCOPES);
    expect(READ_SCOPES).toContain("read:bookmarks");
    expect(scopesFor("3.0.2")).toBe("read:accounts read:follows read:lists read:blocks read:mutes");
    expect(scopesFor("3.0.2+glitch")).toBe(scopesFor("3.0.2"));
    expect(scopesFor("2.4.3")).toBe(scopesFor("3.0.2"));
    expect(scopesFor("2.4.2")).toBe("read");
    expect(scopesFor("0.0.0")).toBe("read");
  });

  it("the new account: granular follow scopes from 2.4.3, `follow` before", () => {
    expect(scopesFor("4.3.2", "new")).toBe("read:accounts read:follows read:search write:follows");
    expect(scopesFor("2.4.2", "new")).toBe("read follow");
  });
});

describe("versions", () => {
  it("reads versions as servers report them", () => {
    expect(atLeast("3.1.0", [3, 1, 0])).toBe(true);
    expect(atLeast("3.1.0rc1", [3, 1, 0])).toBe(true);
    expect(atLeast("3.0.99", [3, 1, 0])).toBe(false);
    expect(atLeast("4.4.0-beta.1", [4, 4, 0])).toBe(true);
    expect(atLeast("10.0.0", [3, 1, 0])).toBe(true);
  });

  it("bookmarks exist from 3.1; unknown versions are read in full", () => {
    expect(serverHas("bookmarks", "3.0.2")).toBe(false);
    expect(serverHas("bookmarks", "3.1.0")).toBe(true);
    expect(serverHas("bookmarks", undefined)).toBe(true);
    expect(serverHas("blocks", "2.0.0")).toBe(true);
  });
});
