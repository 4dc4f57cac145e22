// Bearer tokens: what verifies and what is refused, with the HS256 secret and with a JWKS URL.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthError,
  bearerTokenOf,
  createTokenVerifier,
  parseTtlSeconds,
  sessionTokenOf,
  signToken,
  type AuthConfig,
} from '../../src/platform/auth.ts';
import { loadConfig } from '../../src/platform/config.ts';

const config: AuthConfig = loadConfig({});
const verifier = createTokenVerifier(config);
const secret = new TextEncoder().encode(config.AUTH_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1_000);

function hs256(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...header });
}

async function refusal(token: string, by = verifier): Promise<AuthError> {
  try {
    await by.verify(token);
  } catch (error) {
    if (error instanceof AuthError) return error;
    throw error;
  }
  throw new Error('the token was accepted');
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('verifyToken with the HS256 secret', () => {
  it('accepts a token from signToken and reads the user and role', async () => {
    const token = await signToken(config, { userId: 'user-123', role: 'admin', ttlSeconds: 60 });
    await expect(verifier.verify(token)).resolves.toEqual({ userId: 'user-123', role: 'admin' });
  });

  it('reads a token without a role as a customer', async () => {
    const token = await hs256({})
      .setSubject('alice')
      .setIssuer(config.AUTH_JWT_ISSUER)
      .setAudience(config.AUTH_JWT_AUDIENCE)
      .setExpirationTime(now() + 60)
      .sign(secret);
    await expect(verifier.verify(token)).resolves.toEqual({ userId: 'alice', role: 'customer' });
  });

  const valid = () =>
    hs256({ role: 'customer' })
      .setSubject('alice')
      .setIssuer(config.AUTH_JWT_ISSUER)
      .setAudience(config.AUTH_JWT_AUDIENCE)
      .setExpirationTime(now() + 60);

  it.each([
    [
      'expired',
      () =>
        valid()
          .setExpirationTime(now() - 5)
          .sign(secret),
      'token_expired',
    ],
    ['for another audience', () => valid().setAudience('someone-else').sign(secret), 'token_invalid'],
    ['from another issuer', () => valid().setIssuer('evil').sign(secret), 'token_invalid'],
    ['signed with another secret', () => valid().sign(new TextEncoder().encode('x'.repeat(40))), 'token_invalid'],
    [
      'without an expiry',
      () =>
        hs256({})
          .setSubject('alice')
          .setIssuer(config.AUTH_JWT_ISSUER)
          .setAudience(config.AUTH_JWT_AUDIENCE)
          .sign(secret),
      'token_invalid',
    ],
    [
      'with an unknown role',
      () =>
        hs256({ role: 'root' })
          .setSubject('alice')
          .setIssuer(config.AUTH_JWT_ISSUER)
          .setAudience(config.AUTH_JWT_AUDIENCE)
          .setExpirationTime(now() + 60)
          .sign(secret),
      'token_invalid',
    ],
    ['with a subject that is no user id', () => valid().setSubject('a b/c').sign(secret), 'token_invalid'],
    [
      'with alg none',
      async () =>
        `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'alice', role: 'admin', iss: config.AUTH_JWT_ISSUER, aud: config.AUTH_JWT_AUDIENCE, exp: now() + 60 })}.`,
      'token_invalid',
    ],
    ['that is not a JWT', async () => 'not-a-token', 'token_invalid'],
    ['that is empty', async () => '', 'token_missing'],
  ])('refuses a token %s', async (_name, make, code) => {
    expect((await refusal(await make())).code).toBe(code);
  });

  it('keeps a verified token only until it expires: the same token is refused after its exp', async () => {
    const fresh = createTokenVerifier(config);
    const token = await valid()
      .setExpirationTime(now() + 1)
      .sign(secret);
    await expect(fresh.verify(token)).resolves.toEqual({ userId: 'alice', role: 'customer' });
    await expect(fresh.verify(token)).resolves.toEqual({ userId: 'alice', role: 'customer' });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await refusal(token, fresh)).code).toBe('token_expired');
  });

  it('never takes a token it verified for another one: a changed signature is verified, and refused', async () => {
    const fresh = createTokenVerifier(config);
    const token = await valid().sign(secret);
    await fresh.verify(token);
    const forged = `${token.slice(0, -4)}${token.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    expect((await refusal(forged, fresh)).code).toBe('token_invalid');
  });
});

describe('verifyToken against a JWKS URL', () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('accepts a token signed by a key of the set, and refuses one signed with the HS256 secret', async () => {
    const jwks = createTokenVerifier({ ...config, AUTH_JWKS_URL: jwksUrl, AUTH_JWT_ALGORITHMS: ['ES256'] });
    const token = await new SignJWT({ role: 'customer' })
      .setProtectedHeader({ alg: 'ES256', kid: 'test-key' })
      .setSubject('bob')
      .setIssuer(config.AUTH_JWT_ISSUER)
      .setAudience(config.AUTH_JWT_AUDIENCE)
      .setExpirationTime(now() + 60)
      .sign(privateKey);
    await expect(jwks.verify(token)).resolves.toEqual({ userId: 'bob', role: 'customer' });
    const hmac = await signToken(config, { userId: 'bob', role: 'admin', ttlSeconds: 60 });
    await expect(jwks.verify(hmac)).rejects.toMatchObject({ code: 'token_invalid' });
  });
});

describe('header and ttl parsing', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc.def.ghi', 'abc.def.ghi'],
    ['Basic dXNlcjpwYXNz', ''],
    ['Bearer', ''],
    [undefined, ''],
    ['Bearer a b', ''],
  ])('reads %j as %j', (header, token) => {
    expect(bearerTokenOf(header)).toBe(token);
  });

  it.each([
    ['oe_admin_session=abc.def.ghi', 'abc.def.ghi'],
    ['theme=dark; oe_admin_session=abc.def.ghi; other=1', 'abc.def.ghi'],
    ['theme=dark', ''],
    [undefined, ''],
  ])('reads the session cookie from %j as %j', (header, token) => {
    expect(sessionTokenOf(header)).toBe(token);
  });

  it.each([
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['1h', 3_600],
    ['7d', 604_800],
    ['0', null],
    ['1y', null],
    ['-5m', null],
    ['', null],
  ])('reads ttl %j as %j', (text, seconds) => {
    expect(parseTtlSeconds(text)).toBe(seconds);
  });
});

describe('configuration', () => {
  it('refuses the public development secret in production unless a JWKS URL is set', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_JWT_SECRET/);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: 's'.repeat(32) }).AUTH_JWT_SECRET).toBe(
      's'.repeat(32),
    );
    expect(loadConfig({ NODE_ENV: 'production', AUTH_JWKS_URL: 'https://id.example/jwks.json' }).NODE_ENV).toBe(
      'production',
    );
  });
});
