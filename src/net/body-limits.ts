/**
 * How big an answer can legitimately be, per kind of endpoint. Http stops reading a body
 * past its cap (counted after decompression, as it streams: a 0.4 MB gzip body can inflate
 * to 400 MB) and closes the connection, so a hostile or broken server costs at most this much
 * memory per request. Each cap is a wide margin over the real thing, not a guess at it.
 */
const KB = 1024;
const MB = 1024 * KB;

export const BODY_LIMITS = {
  /** OAuth answers (an app's id and secret, a token) and the discovery document: under a KB. */
  oauth: 64 * KB,
  /** A WebFinger record or the NodeInfo index: a handful of links. */
  webfinger: 64 * KB,
  /**
   * A NodeInfo document: kilobytes, but Pleroma and Akkoma publish their federation policies
   * in its metadata, lists of blocked domains that run to tens of KB.
   */
  nodeinfo: 512 * KB,
  /** Mastodon's instance document (v1 or v2): rules, languages, configuration; ~10 KB. */
  instance: 256 * KB,
  /** One account or actor, or a handful (a search): bio, fields, emoji and keys; tens of KB. */
  account: 256 * KB,
  /** A page of up to 80 Mastodon accounts, or their relationships: some hundred KB. */
  page: 2 * MB,
  /**
   * Anything not given its own cap. Sized for the biggest answer the bot reads in one piece:
   * micro.blog's following list, unpaged, ~300 bytes an account for the 20,000 an import may hold.
   */
  default: 8 * MB,
} as const;

/** "512 KB", "2 MB": a cap as errors name it. */
export function sizeOf(bytes: number): string {
  return bytes >= MB && bytes % MB === 0 ? `${bytes / MB} MB` : `${Math.ceil(bytes / KB)} KB`;
}
