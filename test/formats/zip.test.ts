import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { crc32 } from "../../src/formats/crc32.js";
import { type ZipEntry, zip } from "../../src/formats/zip.js";

const dir = mkdtempSync(path.join(tmpdir(), "fedimove-zip-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Python's zipfile, an independent reader, says what is in the archive. */
const READ = `
import base64, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(json.dumps({
  "testzip": z.testzip(),
  "files": [
    {"name": i.filename, "size": i.file_size, "method": i.compress_type,
     "flags": i.flag_bits, "date": list(i.date_time),
     "data": base64.b64encode(z.read(i)).decode()}
    for i in z.infolist()
  ],
}))
`;

type Read = {
  testzip: string | null;
  files: {
    name: string;
    size: number;
    method: number;
    flags: number;
    date: number[];
    data: string;
  }[];
};

let n = 0;
function readWithPython(archive: Uint8Array): Read {
  const file = path.join(dir, `t${n++}.zip`);
  writeFileSync(file, archive);
  const out = execFileSync("python3", ["-c", READ, file], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out.toString()) as Read;
}

function expectSameFiles(read: Read, files: ZipEntry[]): void {
  expect(read.testzip).toBeNull();
  expect(read.files.map((f) => f.name)).toEqual(files.map((f) => f.name));
  read.files.forEach((f, i) => {
    const want = files[i]!.bytes;
    expect(f.size).toBe(want.length);
    expect(Buffer.from(f.data, "base64").equals(Buffer.from(want))).toBe(true);
  });
}

const text = (s: string) => new TextEncoder().encode(s);

describe("zip", () => {
  it("writes files that Python's zipfile reads back byte for byte", () => {
    const files = [
      {
        name: "following_accounts.csv",
        bytes: text("Account address,Show boosts\na@b.example,true\n".repeat(50)),
      },
      { name: "README.txt", bytes: text("hi") },
    ];
    const read = readWithPython(zip(files));
    expectSameFiles(read, files);
    expect(read.files.map((f) => f.method)).toEqual([8, 0]); // DEFLATE helps only the first
  });

  it("keeps empty files and an empty archive", () => {
    const files = [
      { name: "empty.csv", bytes: new Uint8Array(0) },
      { name: "dir/also-empty", bytes: new Uint8Array(0) },
    ];
    expectSameFiles(readWithPython(zip(files)), files);
    expect(readWithPython(zip([]))).toEqual({ testzip: null, files: [] });
    expect(zip([]).length).toBe(22); // just the end record
  });

  it("flags UTF-8 names so they come back unchanged", () => {
    const files = [
      { name: "Überweisung/日本語 ☃.csv", bytes: text("x") },
      { name: "listes-à-moi.csv", bytes: text("y") },
    ];
    const read = readWithPython(zip(files));
    expectSameFiles(read, files);
    for (const f of read.files) expect(f.flags & 0x800).toBe(0x800);
  });

  it("stores incompressible 5 MB and deflates compressible 5 MB", () => {
    const random = new Uint8Array(randomBytes(5 * 1024 * 1024));
    const repetitive = text("alice@a.example,true,false,\n".repeat(190_000));
    const files = [
      { name: "random.bin", bytes: random },
      { name: "big.csv", bytes: repetitive },
    ];
    const archive = zip(files);
    const read = readWithPython(archive);
    expectSameFiles(read, files);
    expect(read.files.map((f) => f.method)).toEqual([0, 8]);
    expect(archive.length).toBeLessThan(random.length + repetitive.length / 10);
  });

  it("writes the given date as DOS local time (two-second steps)", () => {
    const date = new Date(2024, 4, 17, 13, 45, 31);
    const read = readWithPython(zip([{ name: "a.txt", bytes: text("a"), date }]));
    expect(read.files[0]!.date).toEqual([2024, 5, 17, 13, 45, 30]);
  });

  it("refuses what it can't write", () => {
    const one = (name: string) => ({ name, bytes: text("x") });
    expect(() => zip([one("a.txt"), one("a.txt")])).toThrow(/listed twice/);
    expect(() => zip([one("")])).toThrow(/bad file name/);
    expect(() => zip([one("/etc/passwd")])).toThrow(/relative path/);
    expect(() => zip([one("../up.txt")])).toThrow(/relative path/);
    // A stand-in that only claims to be 4 GB: the size check comes before any reading.
    const huge = { length: 0xffffffff } as Uint8Array;
    expect(() => zip([{ name: "huge.bin", bytes: huge }])).toThrow(/4 GB.*zip64/);
  });
});

describe("crc32", () => {
  it("matches the standard check value", () => {
    expect(crc32(text("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});
