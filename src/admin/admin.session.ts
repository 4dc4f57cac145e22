// The operator's browser session. POST /admin/login takes an admin or viewer JWT (form field
// `token`, JSON `{"token"}` or a Bearer header), verifies it, and stores that same signed token in
// an httpOnly, SameSite=Strict cookie that expires with the token (or sooner, ADMIN_SESSION_TTL_S).
// The cookie is only as good as the token's signature: nothing is kept server-side to forge or
// leak. Each login of a verified token is an audit row, refused ones (a customer's) included.
import express, { Router, type Request, type Response } from 'express';
import { decodeJwt } from 'jose';
import { recordAudit } from '../audit/audit.sql.ts';
import { AuthError, bearerTokenOf, isOperator, sessionCookieName, type TokenVerifier } from '../platform/auth.ts';
import type { Queryable } from '../platform/db.ts';
import { loginPage } from './admin.pages.ts';

export interface SessionOptions {
  verifier: TokenVerifier;
  sessionTtlSecondsMax: number;
  /** Where login audit rows go. */
  db: Queryable;
}

/** Only a local admin path may follow a login, so the form cannot bounce a browser elsewhere. */
export function safeNext(next: unknown): string {
  const local =
    typeof next === 'string' && /^\/admin(\/[A-Za-z0-9/_.?=&%-]*)?$/.test(next) && !/\/\.\.?(\/|$|\?)/.test(next);
  return local ? next : '/admin';
}

function cookie(req: Request, token: string, maxAgeSeconds: number): string {
  const secure = req.secure ? '; Secure' : '';
  return `${sessionCookieName}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

function submittedToken(req: Request): string {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const fromBody = typeof body.token === 'string' ? body.token.trim() : '';
  return fromBody || bearerTokenOf(req.get('authorization'));
}

async function login(options: SessionOptions, req: Request, res: Response): Promise<void> {
  const form = typeof req.is('application/x-www-form-urlencoded') === 'string';
  const next = safeNext((req.body as Record<string, unknown> | undefined)?.next ?? req.query.next);
  const fail = (status: 401 | 403, code: string, message: string) => {
    if (form) res.status(status).type('html').send(loginPage(next, message));
    else res.status(status).json({ error: { code, field: 'token', message } });
  };
  const token = submittedToken(req);
  try {
    const principal = await options.verifier.verify(token);
    const expSeconds = decodeJwt(token).exp ?? 0;
    const remaining = Math.min(options.sessionTtlSecondsMax, expSeconds - Math.floor(Date.now() / 1_000));
    if (remaining <= 0) return fail(401, 'token_expired', 'token has expired');
    const operator = isOperator(principal.role);
    await recordAudit(options.db, {
      actor: principal.userId,
      actorRole: principal.role,
      action: 'session.login',
      outcome: operator ? 'ok' : 'admin_required',
      detail: { via: form ? 'form' : 'json' },
    });
    if (!operator) return fail(403, 'admin_required', 'this token is not an admin or viewer token');
    res.setHeader('Set-Cookie', cookie(req, token, remaining));
    res.setHeader('Cache-Control', 'no-store');
    if (form) res.redirect(303, next);
    else
      res.json({
        user_id: principal.userId,
        role: principal.role,
        expires_at: new Date(Date.now() + remaining * 1_000).toISOString(),
      });
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    fail(401, error.code, error.message);
  }
}

export function sessionRouter(options: SessionOptions): Router {
  const router = Router();
  router.get('/admin/login', (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(loginPage(safeNext(req.query.next)));
  });
  router.post('/admin/login', express.urlencoded({ extended: false, limit: '16kb' }), (req, res, next) => {
    login(options, req, res).catch(next);
  });
  const logout = (req: Request, res: Response) => {
    res.setHeader('Set-Cookie', cookie(req, '', 0));
    if (req.accepts(['html', 'json']) === 'json') res.json({ logged_out: true });
    else res.redirect(303, '/admin/login');
  };
  router.post('/admin/logout', logout);
  router.get('/admin/logout', logout);
  return router;
}
