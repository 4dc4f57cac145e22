// The audit trail: the page's query is the filter, one page of GET /api/v1/admin/audit (newest
// first), and a link to the next page by its cursor. A bad filter shows the API's 400.
/* global document, URLSearchParams */
import { auditRow, fillForm, getJson, givenParameters, showStatus } from './common.js';

const parameters = givenParameters();

async function load() {
  const problem = document.getElementById('list-problem');
  try {
    const page = await getJson(`/api/v1/admin/audit?${parameters}`);
    document
      .querySelector('#audit tbody')
      .replaceChildren(...page.entries.map((entry) => auditRow(entry, { subject: true })));
    document.getElementById('audit-none').hidden = page.entries.length > 0;
    const next = document.getElementById('next-page');
    next.hidden = page.next_cursor === null;
    if (page.next_cursor !== null) {
      const following = new URLSearchParams(parameters);
      following.set('cursor', page.next_cursor);
      next.href = `/admin/audit?${following}`;
    }
    problem.hidden = true;
    showStatus(null);
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
    showStatus(error);
  }
}

fillForm(document.getElementById('filters'), parameters);
void load();
