// The small server-rendered admin pages: the login form. Everything here is local (no CDN, no
// web font), so the pages work on an operator's machine with no internet.

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function loginPage(next: string, problem?: string): string {
  const error = problem === undefined ? '' : `<p class="error" role="alert">${escapeHtml(problem)}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order engine admin: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/admin/static/admin.css"></head>
<body class="login"><main>
<h1>Order engine admin</h1>
<p>Paste an admin token (<code>npm run token -- --user ops --admin</code>).</p>
${error}
<form method="post" action="/admin/login">
  <input type="hidden" name="next" value="${escapeHtml(next)}">
  <label for="token">Admin token</label>
  <textarea id="token" name="token" rows="5" required autocomplete="off" spellcheck="false"></textarea>
  <button type="submit">Log in</button>
</form>
</main></body></html>`;
}
