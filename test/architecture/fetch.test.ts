/**
 * The bot fetches with undici's own `fetch` (the version package.json pins, over our guarded
 * dispatcher), never Node's global one, which bundles an undici of its own. Every use of
 * `fetch` in src/ is read from the syntax tree: a bare `fetch` must be the one imported from
 * "undici" in that file, and `globalThis.fetch` and its like are never used.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const GLOBALS = new Set(["globalThis", "global", "window", "self"]);

function sourcesUnder(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** Where `text` uses a fetch that isn't undici's: "file:line what". */
function foreignFetches(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const fromUndici = new Set<string>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const module = (statement.moduleSpecifier as ts.StringLiteral).text;
    const named = statement.importClause?.namedBindings;
    if (module !== "undici" || !named || !ts.isNamedImports(named)) continue;
    for (const el of named.elements) {
      if ((el.propertyName ?? el.name).text === "fetch") fromUndici.add(el.name.text);
    }
  }
  const found: string[] = [];
  const at = (node: ts.Node, what: string) => {
    const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    found.push(`${file}:${line} ${what}`);
  };
  const visit = (node: ts.Node) => {
    if (
      ts.isPropertyAccessExpression(node) &&
      node.name.text === "fetch" &&
      ts.isIdentifier(node.expression) &&
      GLOBALS.has(node.expression.text)
    ) {
      at(node, `uses ${node.expression.text}.fetch`);
    } else if (ts.isIdentifier(node) && node.text === "fetch" && isValueUse(node)) {
      if (!fromUndici.has("fetch")) at(node, "uses the global fetch");
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `fetch` as a value, not a property's or a declaration's name. */
function isValueUse(id: ts.Identifier): boolean {
  const parent = id.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === id) return false;
  if (ts.isPropertyAssignment(parent) && parent.name === id) return false;
  if (ts.isImportSpecifier(parent) || ts.isExportSpecifier(parent)) return false;
  if ((ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent)) && parent.name === id)
    return false;
  if (ts.isPropertySignature(parent) || ts.isMethodSignature(parent)) return false;
  return true;
}

describe("fetch", () => {
  it("src/ fetches only with undici's fetch", () => {
    const wrong = sourcesUnder("src").flatMap((file) =>
      foreignFetches(file, readFileSync(path.join(ROOT, file), "utf8")),
    );
    expect(wrong).toEqual([]);
  });

  it("the rule itself tells undici's fetch from the global one", () => {
    expect(foreignFetches("a.ts", 'await fetch("https://x");')).toEqual([
      "a.ts:1 uses the global fetch",
    ]);
    expect(foreignFetches("a.ts", 'const f = globalThis.fetch;\nf("x");')).toEqual([
      "a.ts:1 uses globalThis.fetch",
    ]);
    expect(foreignFetches("a.ts", "call({ fetch });")).toEqual(["a.ts:1 uses the global fetch"]);
    expect(
      foreignFetches("a.ts", 'import { fetch } from "undici";\nawait fetch("https://x");'),
    ).toEqual([]);
    expect(
      foreignFetches("a.ts", 'run(bot, { fetch: { allowed_updates: ["message"] } });'),
    ).toEqual([]);
  });
});
