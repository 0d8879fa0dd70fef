/**
 * A minimal ZIP writer (PKWARE APPNOTE.TXT): for each file a local header and
 * its data, then the central directory and its end record. Enough to hand a
 * user their exports as one download that every unzip tool opens, without a
 * dependency. No zip64, so every size and offset must fit in 32 bits.
 */
import { deflateRawSync } from "node:zlib";
import { crc32 } from "./crc32.js";

export type ZipEntry = { name: string; bytes: Uint8Array; date?: Date };

const LIMIT = 0xffffffff;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
/** General-purpose bit 11: the name is UTF-8. Set always; ASCII names are UTF-8 too. */
const FLAG_UTF8 = 0x0800;
/** 2.0: the version that introduced DEFLATE, all a reader needs for these files. */
const VERSION_NEEDED = 20;
/** Made by Unix (3), spec 2.0: lets unzip apply the permissions below instead of guessing. */
const VERSION_MADE_BY = (3 << 8) | 20;
/** A regular file, rw-r--r--, in the Unix half of the external attributes. */
const EXTERNAL_ATTRS = (0o100644 << 16) >>> 0;

export function zip(files: readonly ZipEntry[]): Uint8Array {
  if (files.length > 0xffff)
    throw new Error(`zip: ${files.length} files; at most 65,535 without zip64`);
  const names = new Set<string>();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;

  for (const file of files) {
    const name = new TextEncoder().encode(file.name);
    checkName(file.name, name.length, names);
    if (file.bytes.length >= LIMIT)
      throw new Error(`zip: ${file.name} is 4 GB or more; zip64 isn't supported`);

    const deflated = file.bytes.length > 0 ? deflateRawSync(file.bytes) : undefined;
    // STORE when deflating doesn't save anything (already compressed data, tiny files).
    const useDeflate = deflated !== undefined && deflated.length < file.bytes.length;
    const data = useDeflate ? deflated : file.bytes;
    const { time, date } = dosDateTime(file.date ?? new Date());
    const common = {
      method: useDeflate ? METHOD_DEFLATE : METHOD_STORE,
      time,
      date,
      crc: crc32(file.bytes),
      compressed: data.length,
      size: file.bytes.length,
      nameLength: name.length,
    };

    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, VERSION_NEEDED, true);
    writeCommon(local, 6, common);
    local.setUint16(28, 0, true); // extra field length

    const entry = new DataView(new ArrayBuffer(46));
    entry.setUint32(0, 0x02014b50, true);
    entry.setUint16(4, VERSION_MADE_BY, true);
    entry.setUint16(6, VERSION_NEEDED, true);
    writeCommon(entry, 8, common);
    entry.setUint16(30, 0, true); // extra field length
    entry.setUint16(32, 0, true); // comment length
    entry.setUint16(34, 0, true); // disk number start
    entry.setUint16(36, 0, true); // internal attributes
    entry.setUint32(38, EXTERNAL_ATTRS, true);
    entry.setUint32(42, offset, true); // where the local header starts

    parts.push(bytesOf(local), name, data);
    central.push(bytesOf(entry), name);
    offset += 30 + name.length + data.length;
    if (offset > LIMIT)
      throw new Error("zip: the archive would be 4 GB or more; zip64 isn't supported");
  }

  const centralSize = central.reduce((n, p) => n + p.length, 0);
  if (offset + centralSize + 22 > LIMIT) {
    throw new Error("zip: the archive would be 4 GB or more; zip64 isn't supported");
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(4, 0, true); // this disk
  end.setUint16(6, 0, true); // disk with the central directory
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, centralSize, true);
  end.setUint32(16, offset, true);
  end.setUint16(20, 0, true); // comment length

  return concat([...parts, ...central, bytesOf(end)]);
}

type Common = {
  method: number;
  time: number;
  date: number;
  crc: number;
  compressed: number;
  size: number;
  nameLength: number;
};

/** The run of fields the local header and the central directory entry share. */
function writeCommon(view: DataView, at: number, c: Common): void {
  view.setUint16(at, FLAG_UTF8, true);
  view.setUint16(at + 2, c.method, true);
  view.setUint16(at + 4, c.time, true);
  view.setUint16(at + 6, c.date, true);
  view.setUint32(at + 8, c.crc, true);
  view.setUint32(at + 12, c.compressed, true);
  view.setUint32(at + 16, c.size, true);
  view.setUint16(at + 20, c.nameLength, true);
}

/**
 * MS-DOS date and time, in local time as unzip tools read it back, with
 * two-second resolution; clamped to the 1980–2107 range the format can hold.
 */
export function dosDateTime(d: Date): { time: number; date: number } {
  const year = d.getFullYear();
  if (year < 1980) return { time: 0, date: (1 << 5) | 1 };
  if (year > 2107) return { time: (23 << 11) | (59 << 5) | 29, date: (127 << 9) | (12 << 5) | 31 };
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

/** Names are paths inside the archive: relative, "/"-separated, each used once. */
function checkName(name: string, byteLength: number, seen: Set<string>): void {
  if (name === "" || byteLength > 0xffff)
    throw new Error(`zip: bad file name ${JSON.stringify(name)}`);
  if (name.startsWith("/") || name.includes("\\") || name.split("/").includes("..")) {
    throw new Error(`zip: ${JSON.stringify(name)} must be a relative path with "/" separators`);
  }
  if (seen.has(name)) throw new Error(`zip: ${JSON.stringify(name)} is listed twice`);
  seen.add(name);
}

function bytesOf(view: DataView): Uint8Array {
  return new Uint8Array(view.buffer);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
