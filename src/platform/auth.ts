// Bearer tokens: who is calling and in which role. A JWT is verified with jose, either HS256 with
// a configured secret or against a JWKS URL; signature, expiry, issuer and audience are checked,
// and only the configured algorithms are accepted (so `alg: none` never is). The API's
// middleware and the admin session build on verifyToken; `npm run token` builds on signToken.
import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Config } from './config.ts';

/** customer: their own orders; viewer: an operator who reads every admin page and JSON and acts on nothing; admin: all. */
export const roles = ['customer', 'viewer', 'admin'] as const;
export type Role = (typeof roles)[number];

/** Operators see the admin pages and every order; only an admin acts. */
export function isOperator(role: Role): boolean {
  return role === 'admin' || role === 'viewer';
}

/** Methods that change nothing: all a viewer may use. */
export function isReadOnlyMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** The caller a valid token names. */
export interface Principal {
  userId: string;
  role: Role;
}

export type AuthErrorCode = 'token_missing' | 'token_invalid' | 'token_expired';

/** A token that does not authenticate its bearer: always a 401, never a 5xx. */
export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type AuthConfig = Pick<
  Config,
  'AUTH_JWT_SECRET' | 'AUTH_JWKS_URL' | 'AUTH_JWT_ISSUER' | 'AUTH_JWT_AUDIENCE' | 'AUTH_JWT_ALGORITHMS'
>;

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

const userIdPattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** The user id and role a verified payload carries, or an AuthError naming what is wrong. */
export function principalOf(payload: JWTPayload): Principal {
  const userId = payload.sub;
  if (typeof userId !== 'string' || !userIdPattern.test(userId)) {
    throw new AuthError('token_invalid', 'token subject (sub) must be a user id of 1-64 characters A-Z a-z 0-9 _ . -');
  }
  const role = payload.role ?? 'customer';
  if (typeof role !== 'string' || !(roles as readonly string[]).includes(role)) {
    throw new AuthError('token_invalid', `token role must be one of ${roles.join(', ')}`);
  }
  return { userId, role: role as Role };
}

/** Verified tokens kept, and for how long at most: a verification is costly, a lookup is not. */
const verifiedTokensMax = 10_000;
const verifiedTokenTtlMs = 60_000;

export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  const options = {
    issuer: config.AUTH_JWT_ISSUER,
    audience: config.AUTH_JWT_AUDIENCE,
    algorithms: config.AUTH_JWT_ALGORITHMS,
    requiredClaims: ['exp', 'sub'],
  };
  const jwks = config.AUTH_JWKS_URL === undefined ? null : createRemoteJWKSet(new URL(config.AUTH_JWKS_URL));
  const secret = new TextEncoder().encode(config.AUTH_JWT_SECRET);
  // A token verified once (signature, issuer, audience, expiry) is the same token on its next
  // request: it is taken from here until it expires, or for a minute at most, so a key removed from
  // the JWKS stops being honoured within a minute. Keyed by the whole token, signature included.
  const verified = new Map<string, { principal: Principal; untilMs: number }>();
  const remember = (token: string, principal: Principal, expSeconds: number | undefined) => {
    if (verified.size >= verifiedTokensMax) verified.delete(verified.keys().next().value as string);
    const untilMs = Math.min(Date.now() + verifiedTokenTtlMs, (expSeconds ?? 0) * 1_000);
    verified.set(token, { principal, untilMs });
  };
  return {
    async verify(token) {
      if (token.length === 0) throw new AuthError('token_missing', 'a Bearer token is required');
      const known = verified.get(token);
      if (known !== undefined && known.untilMs > Date.now()) return known.principal;
      if (known !== undefined) verified.delete(token);
      try {
        const { payload } =
          jwks === null ? await jwtVerify(token, secret, options) : await jwtVerify(token, jwks, options);
        const principal = principalOf(payload);
        remember(token, principal, payload.exp);
        return principal;
      } catch (error) {
        if (error instanceof AuthError) throw error;
        if (error instanceof joseErrors.JWTExpired) throw new AuthError('token_expired', 'token has expired');
        if (error instanceof joseErrors.JOSEError) throw new AuthError('token_invalid', `token refused: ${error.code}`);
        throw error;
      }
    },
  };
}

/**
 * The browser session of an operator (admin or viewer): their own JWT in an httpOnly, SameSite=Strict cookie,
 * set by /admin/login, so pages whose fetch calls carry cookies but no Authorization header (Bull
 * Board) still authenticate. It is verified exactly like a Bearer token.
 */
export const sessionCookieName = 'oe_admin_session';

/** The session token in a Cookie header value, or '' when there is none. */
export function sessionTokenOf(cookieHeader: string | undefined): string {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === sessionCookieName) return value.join('=');
  }
  return '';
}

/** The token in an Authorization header value, or '' when there is none. */
export function bearerTokenOf(header: string | undefined): string {
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)[ ]*$/i.exec(header ?? '');
  return match?.[1] ?? '';
}

export interface TokenRequest {
  userId: string;
  role: Role;
  ttlSeconds: number;
}

/** Signs an HS256 token with the configured secret: for `npm run token` and tests, never for production callers. */
export async function signToken(config: AuthConfig, request: TokenRequest): Promise<string> {
  principalOf({ sub: request.userId, role: request.role });
  return new SignJWT({ role: request.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.userId)
    .setIssuer(config.AUTH_JWT_ISSUER)
    .setAudience(config.AUTH_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1_000) + request.ttlSeconds)
    .sign(new TextEncoder().encode(config.AUTH_JWT_SECRET));
}

/** "90", "90s", "15m", "1h", "7d" -> seconds; null when unreadable. */
export function parseTtlSeconds(text: string): number | null {
  const match = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (match === null) return null;
  const unit = { '': 1, s: 1, m: 60, h: 3_600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 ? seconds : null;
}
