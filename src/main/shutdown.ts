// Graceful shutdown: on SIGTERM/SIGINT, close in order (stop taking work, finish in-flight work,
// close connections), bounded, then exit. A SIGKILL skips all of this, and that is fine too.
import type { Logger } from '../platform/logger.ts';

export function onShutdown(logger: Logger, closers: Array<() => Promise<void>>, timeoutMs = 15_000): void {
  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    for (const closer of closers)
      await closer().catch((error: unknown) => logger.error({ err: error }, 'close failed'));
    process.exit(0);
  };
  process.once('SIGTERM', () => void close('SIGTERM'));
  process.once('SIGINT', () => void close('SIGINT'));
}
