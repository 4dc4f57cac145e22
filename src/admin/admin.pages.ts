// The server-rendered shells of the admin pages: the login form, and one layout (header, navigation,
// who is signed in) around the console's pages, whose local scripts (public/*.js) fill them from
// the JSON endpoints. Everything here is local (no CDN, no web font), so the pages work offline.
import type { Principal } from '../platform/auth.ts';

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const head = (title: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/admin/static/admin.css"></head>`;

export function loginPage(next: string, problem?: string): string {
  const error = problem === undefined ? '' : `<p class="error" role="alert">${escapeHtml(problem)}</p>`;
  return `${head('Order engine admin: log in')}
<body class="login"><main>
<h1>Order engine admin</h1>
<p>Paste an admin or viewer token (<code>npm run token -- --user ops --role admin</code>, or
<code>--role viewer</code> to look without acting).</p>
${error}
<form method="post" action="/admin/login">
  <input type="hidden" name="next" value="${escapeHtml(next)}">
  <label for="token">Token</label>
  <textarea id="token" name="token" rows="5" required autocomplete="off" spellcheck="false"></textarea>
  <button type="submit">Log in</button>
</form>
</main></body></html>`;
}

const navigation: Array<[string, string]> = [
  ['/admin', 'Overview'],
  ['/admin/orders', 'Orders'],
  ['/admin/machine', 'Machine'],
  ['/admin/queues', 'Queues'],
  ['/admin/audit', 'Audit'],
];

export interface LayoutOptions {
  title: string;
  /** The page's own heading in the header bar. */
  heading: string;
  bodyClass: string;
  principal: Principal | undefined;
  /** Extra header content (a search form). */
  headerExtra?: string;
  main: string;
  script: string;
  /** data-* attributes of <body>, for the script. */
  data?: Record<string, string>;
}

/** A console page: the header with navigation and the signed-in operator, then `main` and its script. */
export function layout(options: LayoutOptions): string {
  const who = options.principal;
  const role = who?.role ?? 'unknown';
  const data = Object.entries({ role, ...options.data })
    .map(([name, value]) => ` data-${name}="${escapeHtml(value)}"`)
    .join('');
  const links = navigation.map(([href, label]) => `<a href="${href}">${label}</a>`).join(' ');
  const signedIn =
    who === undefined
      ? ''
      : `<span id="signed-in" class="signed-in">${escapeHtml(who.userId)} <span class="badge">${escapeHtml(role)}</span></span>`;
  return `${head(options.title)}
<body class="${options.bodyClass}"${data}>
<header>
  <h1>${escapeHtml(options.heading)}</h1>
  <nav>${links} <a href="/admin/logout">Log out</a></nav>
  ${options.headerExtra ?? ''}
  ${signedIn}
  <span id="refresh-status" aria-live="polite"></span>
</header>
<main>
${options.main}
</main>
<script type="module" src="/admin/static/${options.script}"></script>
</body></html>`;
}

/** The search box every console page carries: an order id, a user id or a correlation id. */
export const searchForm = `<form id="search" action="/admin/orders" method="get" role="search">
    <label for="search-q">Find</label>
    <input id="search-q" name="q" placeholder="order id, user id or correlation id" size="36" maxlength="100">
    <button type="submit">Search</button>
  </form>`;
