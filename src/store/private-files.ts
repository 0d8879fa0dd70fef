/**
 * Files only this user may read: the SQLite database (with its -wal and -shm)
 * and the sealing secret. Modes are set explicitly after creation rather than
 * left to `mode` options, which the umask narrows (0700 under umask 0277 is an
 * unwritable 0500) and which SQLite ignores (it creates its files 0644).
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";

/**
 * The folder for a private file, and any missing parents, 0700. A folder that
 * already exists is left as it is: it may be the working directory.
 */
export function privateFolder(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    chmodSync(d, 0o700);
    if (d === first || dirname(d) === d) return;
  }
}

/** Creates the file empty if missing; either way it ends up 0600 or narrower for others. */
export function privateFile(path: string): void {
  try {
    closeSync(openSync(path, "wx", 0o600));
    chmodSync(path, 0o600);
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error;
    narrowFile(path);
  }
}

/** An existing file others can read or write becomes 0600 (an upgrade must not stop the bot); absent, nothing. */
export function narrowFile(path: string): void {
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) throw error;
  }
}
