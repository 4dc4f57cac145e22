// Entry point: prints a signed Bearer token for local use, on its last line.
//   npm run token -- --user user-123 [--admin] [--ttl 1h]
// It signs with AUTH_JWT_SECRET (HS256), so it only helps where the engine verifies with that
// secret; an engine that verifies against AUTH_JWKS_URL needs tokens from its identity provider.
import { parseArgs } from 'node:util';
import { parseTtlSeconds, signToken } from '../platform/auth.ts';
import { loadConfigOrExit } from '../platform/config.ts';

const usage = 'usage: npm run token -- --user <user id> [--admin] [--ttl 1h]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(64);
}

const config = loadConfigOrExit();
let values: { user?: string; admin?: boolean; ttl?: string };
try {
  ({ values } = parseArgs({
    options: {
      user: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '1h' },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.user === undefined) fail('--user is required');
const ttlSeconds = parseTtlSeconds(values.ttl ?? '1h');
if (ttlSeconds === null) fail(`--ttl must look like 90s, 15m, 1h or 7d; got "${values.ttl}"`);
try {
  const token = await signToken(config, {
    userId: values.user,
    role: values.admin === true ? 'admin' : 'customer',
    ttlSeconds,
  });
  process.stderr.write(
    `token for ${values.user} (${values.admin === true ? 'admin' : 'customer'}), valid ${ttlSeconds} s; use it as\n` +
      `  -H "Authorization: Bearer <token>"\n`,
  );
  process.stdout.write(`${token}\n`);
} catch (error) {
  fail((error as Error).message);
}
