// /api/v1/accounts/{id}/balance and /api/v1/ledger/validate: balances derived from entries.
import { Router } from 'express';
import type { Pool } from '../platform/db.ts';
import { accountBalance, validateLedger } from '../ledger/ledger.validate.ts';
import { sendError } from './errors.ts';

export function ledgerRouter(pool: Pool): Router {
  const router = Router();
  router.get('/accounts/:id/balance', async (req, res) => {
    if (!/^[a-z]+:[A-Za-z0-9_.-]+$/.test(req.params.id)) {
      return sendError(res, {
        code: 'validation_failed',
        field: 'id',
        message: 'must look like kind:name, e.g. customer:alice',
      });
    }
    res.json(await accountBalance(pool, req.params.id));
  });
  router.get('/ledger/validate', async (_req, res) => {
    res.json(await validateLedger(pool));
  });
  return router;
}
