/**
 * Text that looks like a credential, caught before anything else reads it: in a direct message
 * (which stays on a Mastodon server the bot can't delete it from) always, and on every channel
 * at a step that asks for no secret. It is refused, never stored or echoed, deleted where the
 * channel can, and the person is told to revoke it.
 *
 * - micro.blog app tokens: one word of upper-case hex (the sandbox's are 30 characters);
 * - a Mastodon token in a sentence ("my token is …", "Bearer …", "access_token=…"): 32 random
 *   bytes in urlsafe base64, 43 characters (Doorkeeper's default generator).
 *
 * A 43-character word on its own is let through: OAuth authorization codes have exactly that
 * shape too, and the person pastes one to finish signing in. Codes are single-use and last ten
 * minutes; the step trades it at once, and a token pasted there is refused by the server.
 */

const MICROBLOG_TOKEN = /^[0-9A-F]{20,64}$/;
/** Access tokens and OAuth codes: Doorkeeper's 43 urlsafe-base64 characters, or a little different. */
const MASTODON_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const ALONE = /^[A-Za-z0-9_-]{32,64}$/;

export type SecretKind = "microblog" | "mastodon";

/** What kind of credential the message holds, if any. */
export function credentialIn(text: string): SecretKind | null {
  const words = text
    .split(/\s+/)
    .map((w) => w.replace(/^[("'`<]+|[)"'`>.,;:!?]+$/g, "").replace(/^(access_token|token)=/i, ""))
    .filter(Boolean);
  if (words.some((w) => MICROBLOG_TOKEN.test(w))) return "microblog";
  if (/\bbearer\s+\S{16,}/i.test(text) || /access_token=\S{16,}/i.test(text)) return "mastodon";
  if (words.length > 1 && words.some((w) => MASTODON_TOKEN.test(w))) return "mastodon";
  return null;
}

/**
 * Also a word of 32-64 urlsafe-base64 characters on its own, with letters and digits both: an
 * access token or a sign-in code, for a step that asks for neither (no name or handle has
 * that shape).
 */
export type Credential = SecretKind | "code-or-token";

export function credentialAnywhere(text: string): Credential | null {
  const found = credentialIn(text);
  if (found) return found;
  const word = text.trim();
  return ALONE.test(word) && /[0-9]/.test(word) && /[A-Za-z]/.test(word) ? "code-or-token" : null;
}
