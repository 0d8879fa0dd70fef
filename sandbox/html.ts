/**
 * HTML both HTTP stand-ins need and neither owns: escaping for the pages they render, and the
 * error page of nginx, the reverse proxy in front of Mastodon and micro.blog alike.
 */

import { STATUS_CODES } from "node:http";

export function escapeHtml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** nginx's own reason phrases where they differ from the RFC's. */
const NGINX_REASONS: Record<number, string> = {
  503: "Service Temporarily Unavailable",
  504: "Gateway Time-out",
};

/** nginx's built-in error page (what a reverse proxy in front of Puma answers with). */
export function nginxErrorPage(status: number): string {
  const line = `${status} ${NGINX_REASONS[status] ?? STATUS_CODES[status] ?? "Error"}`;
  return `<html>\r\n<head><title>${line}</title></head>\r\n<body>\r\n<center><h1>${line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}
