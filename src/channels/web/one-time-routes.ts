/**
 * The one-time pages' routes (one-time.ts): opening a page shows it, submitting it uses it up.
 *
 *   GET/POST /d/:id   a file the chat couldn't carry: a button, then the download
 *   GET/POST /f/:id   micro.blog's app token, typed into a password field, handed to the step
 *                     under the person's lock as a `form` input (never through the chat)
 *   GET/POST /u/:id   the follows file, handed to the step as a `file` input
 *
 * Nothing secret is ever written into a page or a log.
 */
import type { Engine } from "../../engine/engine.js";
import { MAX_FILE_BYTES } from "../../formats/follows-import.js";
import { log } from "../../log.js";
import type { Page } from "./oauth-callback.js";
import type { OneTimePages } from "./one-time.js";

/** A page, maybe with a one-field form that posts back to the same address, or a download. */
export type WebAnswer =
  | (Page & { form?: { field: "token" | "file" | "none"; submit: string } })
  | { download: { name: string; bytes: Uint8Array } };

const gone: WebAnswer = {
  status: 410,
  title: "This link has been used or has expired",
  body: "Each link works once, for a limited time. Go back to the chat and ask again; /status shows where you are.",
};

const back = (title: string): WebAnswer => ({
  status: 200,
  title,
  body: "Go back to the chat: the answer is there. You can close this page.",
});

export interface OneTimeRequest {
  method: string;
  kind: "d" | "f" | "u";
  id: string;
  /** The submitted form's fields (POST). */
  form?: FormData;
}

export function oneTimeRoutes(deps: { pages: OneTimePages; engine: Engine }) {
  const { pages, engine } = deps;
  return async (r: OneTimeRequest): Promise<WebAnswer> => {
    const post = r.method === "POST";
    if (r.kind === "d") {
      const entry = post ? await pages.claim(r.id, "download") : await pages.peek(r.id, "download");
      if (!entry) return gone;
      if (post)
        return { download: { name: entry.name, bytes: Buffer.from(entry.bytes, "base64") } };
      return {
        status: 200,
        title: entry.name,
        body: "Your file from the chat, ready once.",
        form: { field: "none", submit: `Download ${entry.name}` },
      };
    }
    if (r.kind === "f") {
      if (!post) {
        if (!(await pages.peek(r.id, "secret"))) return gone;
        return {
          status: 200,
          title: "Your micro.blog app token",
          body: "On micro.blog, open Account → Edit Apps, create a token named fedimove, and paste it here. It goes straight to the bot, sealed; it is never shown in the chat.",
          form: { field: "token", submit: "Send to the bot" },
        };
      }
      const token = String(r.form?.get("token") ?? "").trim();
      if (token === "")
        return {
          status: 400,
          title: "That was empty",
          body: "Paste the app token and send it again.",
        };
      const entry = await pages.claim(r.id, "secret");
      if (!entry) return gone;
      const turn = await engine.receive(entry.user, {
        kind: "form",
        purpose: entry.purpose,
        secret: token,
      });
      return turn.ack === "stale"
        ? {
            status: 409,
            title: "The chat has moved on",
            body: "This form is no longer waiting. Go back to the chat; /status shows where you are.",
          }
        : back("Sent");
    }
    if (!post) {
      if (!(await pages.peek(r.id, "upload"))) return gone;
      return {
        status: 200,
        title: "Your follows file",
        body: "Choose following_accounts.csv (Mastodon's follows export), or any list of handles, one per line.",
        form: { field: "file", submit: "Send to the bot" },
      };
    }
    const file = r.form?.get("file");
    if (!(file instanceof File) || file.size === 0)
      return { status: 400, title: "No file", body: "Choose a file and send it again." };
    const entry = await pages.claim(r.id, "upload");
    if (!entry) return gone;
    const bytes = new Uint8Array(await file.arrayBuffer());
    await engine
      .receive(entry.user, {
        kind: "file",
        name: file.name || "upload.csv",
        size: bytes.length,
        read: async () => bytes,
      })
      .catch((err: unknown) => log.error("upload: the turn failed", { err }));
    return back("Sent");
  };
}

export const UPLOAD_LIMIT = MAX_FILE_BYTES + 64 * 1024;
