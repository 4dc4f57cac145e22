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
  /** Verifies the token when there is one and never answers: the rate limiter then knows the caller. */
  identify: RequestHandler;
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
  /** Puts the caller's Principal on res.locals, or the reason there is none. */
  async function identifyCaller(req: Request, res: Response): Promise<void> {
    if (res.locals.principal !== undefined || res.locals.authError !== undefined) return;
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
      // Idempotency keys and rate limits are scoped to this caller.
      res.locals.caller = principal.userId;
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      res.locals.authError = error;
    }
  }

  async function authenticate(req: Request, res: Response): Promise<boolean> {
    await identifyCaller(req, res);
    const error = res.locals.authError as AuthError | undefined;
    if (error === undefined) return true;
    sendError(res, { code: error.code, field: 'Authorization', message: error.message });
    return false;
  }

  const identify: RequestHandler = async (req: Request, _res: Response, next: NextFunction) => {
    await identifyCaller(req, _res);
    next();
  };
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
  return { identify, requireAuth, requireAdmin };
}

/** A middleware that lets through any valid token (or an admin's session cookie). */
export function requireAuth(verifier: TokenVerifier): RequestHandler {
  return createAuthGuards(verifier).requireAuth;
}

/** A middleware that lets through only an admin's token or session cookie, or a viewer's for a read (401, else 403). */
export function requireAdmin(verifier: TokenVerifier): RequestHandler {
  return createAuthGuards(verifier).requireAdmin;
}
