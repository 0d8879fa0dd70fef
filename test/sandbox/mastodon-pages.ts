/** Bodies that real servers send when they aren't answering with JSON. */

import { STATUS_CODES } from "node:http";

/** ApplicationController#respond_with_error(404) → errors/404 in the `error` layout. */
export const MASTODON_404_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta content="text/html; charset=UTF-8" http-equiv="Content-Type">
<meta charset="utf-8">
<meta content="width=device-width,initial-scale=1" name="viewport">
<title>The page you are looking for isn't here. - Mastodon</title>
<meta content="#191b22" name="theme-color">
</head>
<body class="error">
<div class="dialog">
<div class="dialog__illustration">
<img alt="Mastodon" src="/oops.png">
</div>
<div class="dialog__message">
<h1>The page you are looking for isn't here.</h1>
</div>
</div>
</body>
</html>
`;

/** public/500.html, served by ActionDispatch::PublicExceptions for an unhandled exception. */
export const MASTODON_500_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta content="text/html; charset=UTF-8" http-equiv="Content-Type">
<meta charset="utf-8">
<meta content="width=device-width,initial-scale=1" name="viewport">
<title>We're sorry, but something went wrong on our end. - Mastodon</title>
<meta content="#191b22" name="theme-color">
</head>
<body class="error">
<div class="dialog">
<div class="dialog__illustration">
<img alt="Mastodon" src="/oops.png">
</div>
<div class="dialog__message">
<h1>We're sorry, but something went wrong on our end.</h1>
</div>
</div>
</body>
</html>
`;

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
