/**
 * The layers point one way. Every relative import in src/ and sandbox/ is read
 * (type-only imports too: a type is a dependency), and each must run from a
 * higher layer to a lower one, or stay inside its own folder. A new import that
 * runs back up fails here with the file, the line and both layers named.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Lowest first. A file may import its own folder, or any folder of a lower layer. */
const LAYERS: readonly (readonly string[])[] = [
  ["src/log.ts", "src/metrics.ts"],
  ["src/chat", "src/model"],
  ["src/formats", "src/store"],
  ["src/net"],
  ["src/clients"],
  ["src/steps/step.ts"],
  ["src/steps/lib"],
  ["src/steps/old", "src/steps/new", "src/steps/import", "src/steps/move", "src/steps/watch"],
  ["src/steps/index.ts"],
  ["src/jobs"],
  ["src/engine"],
  ["src/core.ts"],
  ["src/channels"],
  ["src/config.ts"],
  ["src/app.ts"],
  ["src/main.ts", "src/demo.ts"],
];

/** The stand-ins stand apart: they import nothing of the bot, and only the demo imports them. */
const SANDBOX = "sandbox";
const SANDBOX_USERS = new Set(["src/demo.ts"]);

function filesUnder(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** The layer's folder (or file) that holds this file, and the layer's index. */
function placeOf(file: string): { unit: string; layer: number } | undefined {
  let best: { unit: string; layer: number } | undefined;
  LAYERS.forEach((units, layer) => {
    for (const unit of units) {
      const holds = file === unit || file.startsWith(`${unit}/`);
      if (holds && (!best || unit.length > best.unit.length)) best = { unit, layer };
    }
  });
  return best;
}

interface Import {
  from: string;
  to: string;
  line: number;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  const found: Import[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of text.matchAll(pattern)) {
    const spec = m[1]!.replace(/\.js$/, ".ts");
    const to = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), spec));
    const line = text.slice(0, m.index).split("\n").length;
    found.push({ from: file, to, line });
  }
  return found;
}

function violation(imp: Import): string | undefined {
  const where = `${imp.from}:${imp.line} imports ${imp.to}`;
  if (imp.to.startsWith("test/") || imp.to.startsWith("bench/"))
    return `${where}: product code depends on tests`;
  if (imp.from.startsWith(`${SANDBOX}/`)) {
    return imp.to.startsWith(`${SANDBOX}/`) ? undefined : `${where}: the sandbox imports the bot`;
  }
  if (imp.to.startsWith(`${SANDBOX}/`)) {
    return SANDBOX_USERS.has(imp.from) ? undefined : `${where}: only the demo uses the sandbox`;
  }
  const from = placeOf(imp.from);
  const to = placeOf(imp.to);
  if (!from) return `${imp.from} is in no layer: add it to LAYERS`;
  if (!to) return `${where}, which is in no layer`;
  if (from.unit === to.unit) return undefined;
  if (to.layer < from.layer) return undefined;
  return `${where}: ${from.unit} (layer ${from.layer}) may not depend on ${to.unit} (layer ${to.layer})`;
}

describe("layers", () => {
  const files = [...filesUnder("src"), ...filesUnder(SANDBOX)];

  it("every file of src/ has a layer", () => {
    expect(filesUnder("src").filter((f) => !placeOf(f))).toEqual([]);
  });

  it("no import runs from a lower layer to a higher one, and none reaches test code", () => {
    const wrong = files.flatMap(importsOf).flatMap((imp) => violation(imp) ?? []);
    expect(wrong).toEqual([]);
  });

  it("the rule itself catches an import that runs back up", () => {
    expect(violation({ from: "src/model/state.ts", to: "src/store/seal.ts", line: 1 })).toMatch(
      /may not depend/,
    );
    expect(violation({ from: "src/steps/lib/x.ts", to: "src/steps/old/y.ts", line: 1 })).toMatch(
      /may not depend/,
    );
    expect(violation({ from: "src/demo.ts", to: "test/sandbox/x.ts", line: 1 })).toMatch(/tests/);
    expect(violation({ from: "src/engine/engine.ts", to: "src/steps/index.ts", line: 1 })).toBe(
      undefined,
    );
  });
});
