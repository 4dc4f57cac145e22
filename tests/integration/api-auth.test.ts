// Authentication and access by owner: nothing under /api/v1 answers without a valid token; a
// customer reaches only their own orders and account, and another's looks exactly like nothing.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/platform/auth.ts';
import { address, getJson, postJson, tokenFor, useApiOnlyEngine } from '../support/engine.ts';
import { testConfig } from '../support/test-config.ts';

const engine = useApiOnlyEngine(100);
const [alice, bob] = [`alice-${randomUUID().slice(0, 6)}`, `bob-${randomUUID().slice(0, 6)}`];
const as = async (user: string) => ({ authorization: `Bearer ${await tokenFor(user)}` });

const order = (userId: string) => ({
  user_id: userId,
  currency: 'USD',
  items: [{ product_id: engine.product, quantity: 1 }],
  shipping_address: address,
});

const secret = () => new TextEncoder().encode(testConfig().AUTH_JWT_SECRET);
const claims = () => {
  const config = testConfig();
  return new SignJWT({ role: 'customer' })
    .setSubject('mallory')
    .setIssuer(config.AUTH_JWT_ISSUER)
    .setAudience(config.AUTH_JWT_AUDIENCE)
    .setIssuedAt();
};
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

describe('tokens', () => {
  const unsigned = (payload: object) =>
    `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;

  it.each<[string, () => Promise<string> | string, string]>([
    [
      'expired',
      () => signToken(testConfig(), { userId: 'x', role: 'customer', ttlSeconds: 1 }).then(expire),
      'token_expired',
    ],
    [
      'wrong audience',
      () =>
        claims()
          .setAudience('someone-else')
          .setExpirationTime(inAnHour())
          .setProtectedHeader({ alg: 'HS256' })
          .sign(secret()),
      'token_invalid',
    ],
    [
      'wrong issuer',
      () =>
        claims().setIssuer('evil').setExpirationTime(inAnHour()).setProtectedHeader({ alg: 'HS256' }).sign(secret()),
      'token_invalid',
    ],
    [
      'bad signature',
      () =>
        claims()
          .setExpirationTime(inAnHour())
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode('x'.repeat(40))),
      'token_invalid',
    ],
    [
      'alg none',
      () =>
        unsigned({
          sub: 'mallory',
          role: 'admin',
          iss: testConfig().AUTH_JWT_ISSUER,
          aud: testConfig().AUTH_JWT_AUDIENCE,
          exp: inAnHour(),
        }),
      'token_invalid',
    ],
    ['garbage', () => 'not.a.token', 'token_invalid'],
  ])('%s -> 401 %s', async (_name, make, code) => {
    const res = await getJson(`${engine.url}/api/v1/products`, { authorization: `Bearer ${await make()}` });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code, field: 'Authorization' });
  });

  it('no token -> 401 token_missing; a non-Bearer scheme -> 401 token_invalid', async () => {
    const none = await fetch(`${engine.url}/api/v1/orders`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as any).error.code).toBe('token_missing');
    const basic = await getJson(`${engine.url}/api/v1/orders`, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(basic.status).toBe(401);
    expect(basic.body.error.code).toBe('token_invalid');
  });

  it('an unknown /api/v1 route needs a token too (401), then says 404', async () => {
    expect((await fetch(`${engine.url}/api/v1/nothing-here`)).status).toBe(401);
    expect((await getJson(`${engine.url}/api/v1/nothing-here`)).status).toBe(404);
  });

  it.each(['/health', '/ready', '/metrics', '/openapi.json', '/docs/'])('%s answers without a token', async (path) => {
    expect((await fetch(`${engine.url}${path}`)).status).toBe(200);
  });

  it('a customer on an admin route -> 403 forbidden', async () => {
    const res = await postJson(
      `${engine.url}/api/v1/coupons`,
      { code: 'NOPE', kind: 'percent', percent_off: '10', redemptions_max: 1 },
      await as(alice),
    );
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });
});

async function expire(token: string): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 2_100));
  return token;
}

describe('access by owner', () => {
  let aliceOrder: string;
  beforeAll(async () => {
    const placed = await postJson(`${engine.url}/api/v1/orders`, order(alice), await as(alice));
    expect(placed.status).toBe(202);
    aliceOrder = placed.body.id;
    expect((await postJson(`${engine.url}/api/v1/orders`, order(bob), await as(bob))).status).toBe(202);
  });

  it('another customer’s order answers 404 exactly like a missing one (read, history, cancel)', async () => {
    const missing = randomUUID();
    for (const suffix of ['', '/history']) {
      const theirs = await getJson(`${engine.url}/api/v1/orders/${aliceOrder}${suffix}`, await as(bob));
      const none = await getJson(`${engine.url}/api/v1/orders/${missing}${suffix}`, await as(bob));
      expect(theirs.status).toBe(404);
      expect(theirs.body).toEqual(none.body);
    }
    const cancel = await postJson(`${engine.url}/api/v1/orders/${aliceOrder}/cancel`, {}, await as(bob));
    const cancelNone = await postJson(`${engine.url}/api/v1/orders/${missing}/cancel`, {}, await as(bob));
    expect(cancel.status).toBe(404);
    expect(cancel.body).toEqual(cancelNone.body);
    const outbox = await engine.core.pool.query(`SELECT 1 FROM outbox WHERE key = $1 AND type = 'order.cancel'`, [
      aliceOrder,
    ]);
    expect(outbox.rowCount).toBe(0);
  });

  it('the owner and an admin see the order', async () => {
    expect((await getJson(`${engine.url}/api/v1/orders/${aliceOrder}`, await as(alice))).body.id).toBe(aliceOrder);
    expect((await getJson(`${engine.url}/api/v1/orders/${aliceOrder}`)).body.id).toBe(aliceOrder);
    const history = await getJson(`${engine.url}/api/v1/orders/${aliceOrder}/history`, await as(alice));
    expect(history.body.transitions[0]).toMatchObject({
      seq: 1,
      event_type: 'order.placed',
      message_id: expect.any(String),
    });
  });

  it('a customer lists only their own orders; asking for another’s is 403', async () => {
    const own = await getJson(`${engine.url}/api/v1/orders`, await as(bob));
    expect(own.status).toBe(200);
    expect(own.body.orders.length).toBeGreaterThan(0);
    expect(own.body.orders.every((o: any) => o.user_id === bob)).toBe(true);
    const theirs = await getJson(`${engine.url}/api/v1/orders?user_id=${alice}`, await as(bob));
    expect(theirs.status).toBe(403);
    const admin = await getJson(`${engine.url}/api/v1/orders?user_id=${alice}`);
    expect(admin.body.orders.map((o: any) => o.id)).toEqual([aliceOrder]);
  });

  it('another customer’s account answers 404; one’s own answers', async () => {
    for (const path of ['balance', 'transactions']) {
      const theirs = await getJson(`${engine.url}/api/v1/accounts/customer:${alice}/${path}`, await as(bob));
      expect(theirs.status).toBe(404);
      expect(theirs.body.error.code).toBe('account_not_found');
      expect(JSON.stringify(theirs.body)).not.toContain(alice);
      const own = await getJson(`${engine.url}/api/v1/accounts/customer:${bob}/${path}`, await as(bob));
      expect(own.status).toBe(200);
    }
    expect((await getJson(`${engine.url}/api/v1/accounts/merchant:revenue/balance`, await as(bob))).status).toBe(404);
  });

  it('a customer posting another user’s user_id is refused and writes nothing; an admin may', async () => {
    const count = async () =>
      (await engine.core.pool.query(`SELECT count(*)::int AS n FROM orders WHERE user_id = $1`, [alice])).rows[0].n;
    const before = await count();
    const refused = await postJson(`${engine.url}/api/v1/orders`, order(alice), await as(bob));
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'forbidden', field: 'user_id' });
    expect(await count()).toBe(before);
    const admin = await postJson(`${engine.url}/api/v1/orders`, order(alice));
    expect(admin.status).toBe(202);
    expect(await count()).toBe(before + 1);
  });
});
