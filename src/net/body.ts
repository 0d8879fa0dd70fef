/** Reading a response's body with a cap on its size. */
import type { Response } from "undici";

/**
 * The body, read as it streams and counted after decompression: at most `limit` bytes. Past
 * that the read stops, the attempt is aborted (undici closes the connection rather than drain
 * the rest) and `over` says so. When the body is wanted `whole`, a Content-Length already
 * over the cap isn't read at all; otherwise (an error's text) its start is read.
 */
export async function readBody(
  res: Response,
  limit: number,
  attempt: AbortController,
  whole: boolean,
): Promise<{ bytes: Uint8Array; over: boolean }> {
  if (!res.body) return { bytes: new Uint8Array(), over: false };
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  const encoded = (res.headers.get("content-encoding") ?? "identity") !== "identity";
  if (whole && !encoded && declared > limit) {
    attempt.abort();
    return { bytes: new Uint8Array(), over: true };
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      chunks.push(value.subarray(0, limit - size));
      size = limit;
      attempt.abort();
      await reader.cancel().catch(() => undefined);
      return { bytes: concat(chunks, size), over: true };
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { bytes: concat(chunks, size), over: false };
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
