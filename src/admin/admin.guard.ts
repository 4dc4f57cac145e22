// Operators only past this point: admins, and viewers for reads. A caller proves its role with a
// Bearer token (scripts, curl) or with the session cookie that /admin/login sets (browsers: Bull
// Board's own fetch calls carry cookies but no Authorization header). Both are verified the same
// way. A page without credentials is sent to the login form; an API path gets a 401/403 JSON
// error. A viewer sees everything and changes nothing: any method but GET/HEAD answers it 403.
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

declare module 'express-serve-static-core' {
  interface Request {
    /** The operator (admin or viewer) a guarded request was verified as. */
    admin?: Principal;
  }
}

/** Paths answered with JSON rather than HTML: the admin API and Bull Board's own API. */
export function wantsJson(req: Request): boolean {
  const path = req.originalUrl;
  return path.startsWith('/api/') || path.startsWith('/admin/queues/api/') || req.accepts(['html', 'json']) === 'json';
}

function refuse(req: Request, res: Response, status: 401 | 403, code: string, message: string): void {
  if (wantsJson(req)) {
    res.status(status).json({ error: { code, message } });
    return;
  }
  if (status === 401) {
    res.redirect(303, `/admin/login?next=${encodeURIComponent(req.originalUrl)}`);
    return;
  }
  res
    .status(403)
    .type('html')
    .send(`<!doctype html><title>Forbidden</title><p>${message}. <a href="/admin/logout">Log out</a></p>`);
}

/** The token a request carries: the Authorization header first, then the session cookie. */
export function credentialOf(req: Request): string {
  return bearerTokenOf(req.get('authorization')) || sessionTokenOf(req.get('cookie'));
}

export function adminGuard(verifier: TokenVerifier): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const token = credentialOf(req);
    if (token === '') {
      refuse(req, res, 401, 'token_missing', 'admin credentials are required');
      return;
    }
    verifier.verify(token).then(
      (principal) => {
        if (!isOperator(principal.role)) {
          refuse(req, res, 403, 'admin_required', 'this page is for admins only');
          return;
        }
        if (principal.role === 'viewer' && !isReadOnlyMethod(req.method)) {
          refuse(req, res, 403, 'admin_required', 'the viewer role is read-only: this action needs an admin');
          return;
        }
        req.admin = principal;
        next();
      },
      (error: unknown) => {
        if (error instanceof AuthError) refuse(req, res, 401, error.code, error.message);
        else next(error);
      },
    );
  };
}
