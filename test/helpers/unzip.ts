/** Reads a zip the way a user's computer would (Python's zipfile), for asserting on its files. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export function unzip(bytes: Uint8Array): Record<string, string> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "fedimove-zip-")), "a.zip");
  writeFileSync(file, bytes);
  const out = execFileSync("python3", [
    "-c",
    "import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(json.dumps({n: z.read(n).decode('utf-8') for n in z.namelist()}))",
    file,
  ]);
  return JSON.parse(out.toString("utf8")) as Record<string, string>;
}
