// Entry point: prints a signed Bearer token for local use, on its last line.
//   npm run token -- --user user-123 [--role customer|viewer|admin] [--admin] [--ttl 1h]
// `--admin` is short for `--role admin`. It signs with AUTH_JWT_SECRET (HS256), so it only helps
// where the engine verifies with that secret; an engine that verifies against AUTH_JWKS_URL needs
// tokens from its identity provider.
import { parseArgs } from 'node:util';
import { parseTtlSeconds, roles, signToken, type Role } from '../platform/auth.ts';
import { loadConfigOrExit } from '../platform/config.ts';

const usage = `usage: npm run token -- --user <user id> [--role ${roles.join('|')}] [--admin] [--ttl 1h]`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(64);
}

/** The role asked for: --role, or --admin as its shorthand; both must then agree. */
function roleOf(values: { role?: string | undefined; admin?: boolean | undefined }): Role {
  const role = values.role ?? (values.admin === true ? 'admin' : 'customer');
  if (!(roles as readonly string[]).includes(role)) fail(`--role must be one of ${roles.join(', ')}; got "${role}"`);
  if (values.admin === true && role !== 'admin') fail(`--admin means --role admin; it contradicts --role ${role}`);
  return role as Role;
}

const config = loadConfigOrExit();
let values: { user?: string; role?: string; admin?: boolean; ttl?: string };
try {
  ({ values } = parseArgs({
    options: {
      user: { type: 'string' },
      role: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '1h' },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.user === undefined) fail('--user is required');
const role = roleOf(values);
const ttlSeconds = parseTtlSeconds(values.ttl ?? '1h');
if (ttlSeconds === null) fail(`--ttl must look like 90s, 15m, 1h or 7d; got "${values.ttl}"`);
try {
  const token = await signToken(config, { userId: values.user, role, ttlSeconds });
  process.stderr.write(
    `token for ${values.user} (${role}), valid ${ttlSeconds} s; use it as\n  -H "Authorization: Bearer <token>"\n`,
  );
  process.stdout.write(`${token}\n`);
} catch (error) {
  fail((error as Error).message);
}
