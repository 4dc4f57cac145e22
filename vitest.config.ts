import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    // Integration files share one PostgreSQL database, Redis and Kafka: one file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    },
  },
});
