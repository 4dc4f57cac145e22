// The one pino logger. Child loggers carry the module and the correlation id.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'order-engine'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
