// Who is calling: requireAuth verifies the Bearer token (or an operator's session cookie) and puts
// the Principal on res.locals; requireAdmin also demands the admin role, or the viewer role for a
// read. A viewer never changes anything: every other method answers it 403, on every route. Owner
// rules live here too, so every route asks the same questions the same way.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  AuthError,
  bearerTokenOf,
  isOperator,
  isReadOnlyMethod,
  sessionTokenOf,
  type Principal,
  type TokenVerifier,
} from '../platform/auth.ts';
import { sendError } from './errors.ts';

export interface AuthGuards {
  requireAuth: RequestHandler;
  requireAdmin: RequestHandler;
}

/** The authenticated caller; only call after requireAuth. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (principal === undefined) throw new Error('principalOf called on a route without requireAuth');
  return principal;
}

/**
 * Whether the caller may reach data of `userId`: their own, or anyone's as an operator. A viewer
 * passes here only for reads: requireAuth has already refused its every write.
 */
export function mayActFor(principal: Principal, userId: string): boolean {
  return isOperator(principal.role) || principal.userId === userId;
}

/** Ledger accounts a customer may read: their own customer account only (operators: any). */
export function mayReadAccount(principal: Principal, accountId: string): boolean {
  return isOperator(principal.role) || accountId === `customer:${principal.userId}`;
}

const readOnly = { code: 'forbidden', field: 'Authorization', message: 'the viewer role is read-only' } as const;

export function createAuthGuards(verifier: TokenVerifier): AuthGuards {
  async function authenticate(req: Request, res: Response): Promise<boolean> {
    if (res.locals.principal !== undefined) return true;
    const bearer = bearerTokenOf(req.get('Authorization'));
    // The admin pages' session cookie (httpOnly, SameSite=Strict) stands in for the header, for
    // operators only: a customer's API access is always a Bearer token.
    const token = bearer !== '' ? bearer : sessionTokenOf(req.get('Cookie'));
    try {
      if (token === '' && req.get('Authorization') !== undefined) {
        throw new AuthError('token_invalid', 'Authorization must be "Bearer <token>"');
      }
      const principal = await verifier.verify(token);
      if (bearer === '' && !isOperator(principal.role)) {
        throw new AuthError('token_invalid', 'a session cookie is only accepted for operators');
      }
      res.locals.principal = principal;
      // Idempotency keys are scoped to this caller.
      res.locals.caller = principal.userId;
      return true;
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      sendError(res, { code: error.code, field: 'Authorization', message: error.message });
      return false;
    }
  }

  const requireAuth: RequestHandler = async (req: Request, res: Response, next: NextFunction) => {
    if (!(await authenticate(req, res))) return;
    if (principalOf(res).role === 'viewer' && !isReadOnlyMethod(req.method)) return sendError(res, readOnly);
    next();
  };
  const requireAdmin: RequestHandler = async (req: Request, res: Response, next: NextFunction) => {
    if (!(await authenticate(req, res))) return;
    const { role } = principalOf(res);
    if (role === 'viewer' && !isReadOnlyMethod(req.method)) return sendError(res, readOnly);
    if (!isOperator(role)) {
      return sendError(res, { code: 'forbidden', field: 'Authorization', message: 'this needs the admin role' });
    }
    next();
  };
  return { requireAuth, requireAdmin };
}

/** A middleware that lets through any valid token (or an admin's session cookie). */
export function requireAuth(verifier: TokenVerifier): RequestHandler {
  return createAuthGuards(verifier).requireAuth;
}

/** A middleware that lets through only an admin's token or session cookie, or a viewer's for a read (401, else 403). */
export function requireAdmin(verifier: TokenVerifier): RequestHandler {
  return createAuthGuards(verifier).requireAdmin;
}
