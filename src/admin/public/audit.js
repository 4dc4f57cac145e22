// The audit trail: the page's query is the filter, one page of GET /api/v1/admin/audit (newest
// first), and a link to the next page by its cursor. A bad filter shows the API's 400.
import { auditRow, loadListPage } from './common.js';

void loadListPage({
  api: '/api/v1/admin/audit',
  pagePath: '/admin/audit',
  tableId: 'audit',
  rowsOf: (page) => page.entries,
  rowOf: (entry) => auditRow(entry, { subject: true }),
});
