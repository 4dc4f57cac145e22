// Small pieces every admin router shares: async handlers that reach the error handler, path and
// query checks that answer a 400 naming the field (never a 5xx), and who is acting, for audit rows.
import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { sendError } from '../api/errors.ts';
import { validationErrors } from '../api/validation.ts';
import type { Principal } from '../platform/auth.ts';

export const handle =
  (fn: (req: Request, res: Response) => Promise<void>) =>
  (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };

const orderIdSchema = z.uuid();

export function orderIdOf(req: Request, res: Response): string | null {
  const parsed = orderIdSchema.safeParse(req.params.id);
  if (parsed.success) return parsed.data;
  sendError(res, { code: 'validation_failed', field: 'id', message: 'must be an order id (a UUID)' });
  return null;
}

/**
 * The query checked by its schema, or null after a 400 that names the first bad parameter. An
 * empty parameter (`?status=`, as a form with blank fields sends it) counts as absent.
 */
export function queryOf<S extends z.ZodType>(schema: S, req: Request, res: Response): z.output<S> | null {
  const given = Object.fromEntries(Object.entries(req.query).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(given);
  if (parsed.success) return parsed.data;
  const errors = validationErrors(parsed.error);
  sendError(res, errors[0]!, errors);
  return null;
}

/** The JSON body checked by its schema, or null after a 400 that names the first bad field. */
export function bodyOf<S extends z.ZodType>(schema: S, req: Request, res: Response): z.output<S> | null {
  const parsed = schema.safeParse(req.body ?? {});
  if (parsed.success) return parsed.data;
  const errors = validationErrors(parsed.error);
  sendError(res, errors[0]!, errors);
  return null;
}

/** The operator a guarded request was verified as (the admin guard ran before). */
export function operatorOf(req: Request): Principal {
  if (req.admin === undefined) throw new Error('operatorOf called on a route without the admin guard');
  return req.admin;
}
