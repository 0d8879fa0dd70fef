/** Mastodon's own HTML: its error pages and the OAuth views (nginx's page is in html.ts). */

import { escapeHtml } from "./html.js";

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

/** The `modal` layout Oauth::AuthorizationsController renders in (trimmed to its skeleton). */
function modalLayout(title: string, inner: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta content="width=device-width,initial-scale=1" name="viewport">
<title>${escapeHtml(title)}</title>
<meta content="#191b22" name="theme-color">
</head>
<body class="modal-layout">
<div class="container-alt">
${inner}
</div>
</body>
</html>
`;
}

export interface ConsentPageData {
  clientName: string;
  clientId: string;
  redirectUri: string;
  state: string | null;
  responseType: string;
  scope: string;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  scopes: string[];
}

/** oauth/authorizations/new.html.haml: "Authorize" posts, "Deny" deletes, both with the pre-auth fields. */
export function oauthConsentPage(d: ConsentPageData): string {
  const hidden = (name: string, value: string | null) =>
    `<input value="${escapeHtml(value ?? "")}" autocomplete="off" type="hidden" name="${name}" id="${name}">`;
  const fields = [
    hidden("client_id", d.clientId),
    hidden("redirect_uri", d.redirectUri),
    hidden("code_challenge", d.codeChallenge),
    hidden("code_challenge_method", d.codeChallengeMethod),
    hidden("state", d.state),
    hidden("response_type", d.responseType),
    hidden("scope", d.scope),
  ].join("\n");
  const scopes = d.scopes
    .map(
      (s) =>
        `<li class="permissions-list__item"><div class="permissions-list__item__text"><div class="permissions-list__item__text__title">${escapeHtml(s)}</div></div></li>`,
    )
    .join("\n");
  return modalLayout(
    "Authorization required - Mastodon",
    `<div class="form-container simple_form">
<div class="oauth-prompt">
<h3>Authorization required</h3>
<p><strong>${escapeHtml(d.clientName)}</strong> would like permission to access your account. Only approve this request if you recognize and trust this source.</p>
<h3>Review permissions</h3>
<ul class="permissions-list">
${scopes}
</ul>
<div class="actions">
<form action="/oauth/authorize" accept-charset="UTF-8" method="post">
${fields}
<button name="button" type="submit">Authorize</button>
</form>
<form action="/oauth/authorize" accept-charset="UTF-8" method="post"><input type="hidden" name="_method" value="delete" autocomplete="off">
${fields}
<button name="button" type="submit" class="negative">Deny</button>
</form>
</div>
</div>
</div>`,
  );
}

/** oauth/authorizations/error.html.haml: the error_description in a flash message. */
export function oauthErrorPage(description: string): string {
  return modalLayout(
    "Mastodon",
    `<div class="form-container">
<div class="flash-message">
${escapeHtml(description)}
</div>
</div>`,
  );
}

/** oauth/authorizations/show.html.haml (the `native` route for urn:ietf:wg:oauth:2.0:oob). */
export function oauthCodePage(code: string): string {
  return modalLayout(
    "Mastodon",
    `<div class="form-container">
<div class="flash-message simple_form">
<p>Copy this authorization code and paste it to the application.</p>
<div class="input-copy">
<div class="input-copy__wrapper">
<input class="oauth-code" readonly="readonly" spellcheck="false" type="text" value="${escapeHtml(code)}">
</div>
<button type="button">Copy</button>
</div>
</div>
</div>`,
  );
}
