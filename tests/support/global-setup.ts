// Runs once before the suite: checks that every server answers (and fails, naming the one that
// does not, rather than skipping), then rebuilds the test database's schema from the migrations.
import { isPortOpen } from '../../src/local-infra/wait.ts';
import { rebuildDatabase } from './database.ts';
import { testConfig, testDatabaseUrl } from './test-config.ts';

export default async function setup(): Promise<void> {
  const config = testConfig();
  const servers: Array<[string, string, number]> = [
    ['PostgreSQL', new URL(config.DATABASE_URL).hostname, Number(new URL(config.DATABASE_URL).port || 5432)],
    ...config.REDLOCK_NODES.map((u): [string, string, number] => [
      `Redis ${u}`,
      new URL(u).hostname,
      Number(new URL(u).port),
    ]),
    ...config.KAFKA_BROKERS.map((b): [string, string, number] => [
      `Kafka ${b}`,
      b.split(':')[0]!,
      Number(b.split(':')[1]),
    ]),
  ];
  const missing: string[] = [];
  for (const [name, host, port] of servers)
    if (!(await isPortOpen(host, port, 2_000))) missing.push(`${name} (${host}:${port})`);
  if (missing.length > 0) {
    throw new Error(`tests need real servers; not answering: ${missing.join(', ')}. Run \`npm run services:up\`.`);
  }

  await rebuildDatabase(testDatabaseUrl());
}
